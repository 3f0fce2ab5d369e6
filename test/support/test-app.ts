import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/common/logger.js';
import { createHttpApp } from '../../src/http-app.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export function testConfig(databaseUrl: string, overrides: Record<string, string> = {}): AppConfig {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:56379',
    KAAS_ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
    KAAS_SECRET_KEY: randomBytes(32).toString('hex'),
    KAAS_QUEUE_PREFIX: `kaas-t-${randomBytes(4).toString('hex')}`,
    KAAS_LOG_LEVEL: 'info',
    KAAS_DATA_DIR: '/tmp/kaas-test-data',
    ...ovnEnv(),
    ...overrides,
  });
}

/** The Northbound database of this test file (test/support/northbound-per-file.ts), when it has one. */
export function ovnEnv(): Record<string, string> {
  return process.env.KAAS_OVN_NB
    ? { KAAS_OVN_NB: process.env.KAAS_OVN_NB, KAAS_OVN_SB: process.env.KAAS_OVN_SB ?? 'none' }
    : {};
}

/** Collects JSON log lines in memory so tests can assert on them. */
export class LogSink extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
}

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  config: AppConfig;
  db: TestDatabase;
  logs: LogSink;
  admin: Client;
  close(): Promise<void>;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small HTTP client bound to one token, for readable tests. */
export class Client {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...this.extraHeaders,
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  as(token: string, extraHeaders: Record<string, string> = {}): Client {
    return new Client(this.baseUrl, token, extraHeaders);
  }
}

export async function startTestApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = testConfig(db.url, overrides);
  const logs = new LogSink();
  const logger = createLogger(config.logLevel, 'api', logs);
  const app = await createHttpApp(config, logger);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    app,
    baseUrl,
    config,
    db,
    logs,
    admin: new Client(baseUrl, config.adminToken),
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

/** Creates a tenant through the API and returns its id and a client acting as it. */
export async function createTenant(t: TestApp, name: string): Promise<{ id: string; apiKey: string; client: Client }> {
  const res = await t.admin.call('POST', '/v1/tenants', { name });
  if (res.status !== 201) throw new Error(`creating tenant ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, apiKey: res.body.apiKey, client: t.admin.as(res.body.apiKey) };
}
