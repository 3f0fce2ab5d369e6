import type { LoggerService } from '@nestjs/common';
import { pino, type Logger } from 'pino';
import { currentRequestId } from './request-context.js';

/** Keys whose values never reach a log line. */
const REDACT = [
  'apiKey',
  'token',
  'secret',
  'password',
  'authorization',
  'kubeconfig',
  'privateKey',
  'joinToken',
  '*.apiKey',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  '*.kubeconfig',
  '*.privateKey',
  '*.joinToken',
  'req.headers.authorization',
];

export function createLogger(level: string, processName: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { process: processName, pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      mixin() {
        const requestId = currentRequestId();
        return requestId ? { requestId } : {};
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ sync: false }),
  );
}

/** Adapts pino to Nest's logger interface so framework messages are JSON too. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
