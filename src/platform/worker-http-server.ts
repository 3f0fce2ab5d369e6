import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { DomainError, ErrorCode, HTTP_STATUS_BY_CODE } from '../common/domain-error.js';
import { requestContext, requestIdFrom } from '../common/request-context.js';
import type { BearerCheck } from './operator-access.js';
import { probeReadiness, type ReadinessCheck } from './readiness-probe.js';

export interface WorkerHttpOptions {
  logger: Logger;
  /** The Prometheus text of this process. */
  metrics: () => Promise<string>;
  metricsContentType: string;
  /** What /readyz checks, by name. */
  readiness: [string, ReadinessCheck][];
  /** Whether the request may read /metrics (the operator's, as on the API). */
  authorize: (request: { ip: string | undefined; authorization: string | undefined }) => Promise<BearerCheck>;
}

/** How long a close waits for answers under way before it cuts their connections. */
const CLOSE_WAIT_MS = 3000;

/**
 * A worker's own small HTTP endpoint: `/healthz` and `/readyz`, open and naming nothing, and
 * `/metrics` for the operator. A worker serves no API, so this is plain node:http rather than a
 * second Nest HTTP application; the answers are those of the API's routes of the same names.
 */
export class WorkerHttpServer {
  private readonly server: Server;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: WorkerHttpOptions) {
    this.server = createServer((req, res) => {
      const requestId = requestIdFrom(req.headers['x-request-id']);
      res.setHeader('X-Request-Id', requestId);
      void requestContext.run({ requestId, sourceIp: req.socket.remoteAddress }, () =>
        this.handle(req, res, requestId).catch((err: unknown) => {
          this.options.logger.error({ err, path: req.url }, 'unexpected error on the worker port');
          this.refuse(
            res,
            requestId,
            new DomainError(ErrorCode.Internal, 'internal error; quote the request id when reporting it'),
          );
        }),
      );
    });
  }

  /** Starts listening; resolves with the port (the one asked for, or the one given for 0). */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(err);
      this.server.once('error', failed);
      this.server.listen(port, host, () => {
        this.server.off('error', failed);
        this.server.on('error', (err) => this.options.logger.error({ err: err.message }, 'worker port error'));
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops listening, lets answers under way finish (for a while), and ends idle connections. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      const force = setTimeout(() => this.server.closeAllConnections(), CLOSE_WAIT_MS);
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
    if (!known || (req.method !== 'GET' && req.method !== 'HEAD'))
      return this.refuse(res, requestId, new DomainError(ErrorCode.NotFound, `no route for ${req.method} ${path}`));
    if (path === '/healthz') return this.json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const answer = await probeReadiness(this.options.readiness);
      return this.json(res, answer.ok ? 200 : 503, answer.body);
    }
    const access = await this.options.authorize({
      ip: req.socket.remoteAddress,
      authorization: req.headers.authorization,
    });
    for (const [name, value] of Object.entries(access.headers)) res.setHeader(name, value);
    if (access.refusal) return this.refuse(res, requestId, access.refusal);
    const text = await this.options.metrics();
    res.writeHead(200, { 'Content-Type': this.options.metricsContentType });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  /** The API's error body: `{statusCode, error, code, message, requestId}`. */
  private refuse(res: ServerResponse, requestId: string, error: DomainError): void {
    const status = HTTP_STATUS_BY_CODE[error.code];
    const body = {
      statusCode: status,
      error: STATUS_CODES[status] ?? 'Error',
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
      requestId,
    };
    if (res.headersSent) return void res.end();
    this.json(res, status, body);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }
}
