/**
 * The PostgreSQL and Redis that `scripts/services.sh` starts (for `make run` and the tests) ask
 * for a password, kept in the data folder where only their owner can read it, and the platform's
 * defaults find it there.
 */
import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { readIfExists } from '../../src/config/bootstrap.js';
import { loadConfig } from '../../src/config/config.js';
import { ROOT } from '../support/processes.js';

const DATA = process.env.KAAS_DATA_DIR ?? join(ROOT, '.data');
const databaseUrl = new URL(process.env.KAAS_TEST_ADMIN_DATABASE_URL ?? process.env.DATABASE_URL ?? '');
const redisUrl = new URL(process.env.REDIS_URL ?? '');

function withoutPassword(url: URL, password = ''): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

async function pgAnswer(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String((await client.query('SELECT 1 AS one')).rows[0].one);
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Redis's answer to AUTH (when a password is given) then PING, read off the wire. */
function redisAnswer(url: URL, password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let answer = '';
    const expected = password === undefined ? 1 : 2;
    socket.setTimeout(5000, () => socket.destroy(new Error('Redis did not answer')));
    socket.on('error', reject);
    socket.on('connect', () => socket.write(`${password === undefined ? '' : `AUTH ${password}\r\n`}PING\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.split('\r\n').length > expected) {
        socket.end();
        resolve(answer.trim());
      }
    });
  });
}

describe('the services of make run and make test', () => {
  it('PostgreSQL refuses a connection without the password, or with a wrong one', async () => {
    expect(databaseUrl.password).not.toBe('');
    expect(await pgAnswer(databaseUrl.toString())).toBe('1');
    expect(await pgAnswer(withoutPassword(databaseUrl))).toMatch(/password/i);
    expect(await pgAnswer(withoutPassword(databaseUrl, 'not-the-password'))).toMatch(/password authentication failed/);
  });

  it('Redis refuses commands without the password', async () => {
    expect(redisUrl.password).not.toBe('');
    expect(await redisAnswer(redisUrl, redisUrl.password)).toBe('+OK\r\n+PONG');
    expect(await redisAnswer(redisUrl)).toMatch(/^-NOAUTH/);
    expect(await redisAnswer(redisUrl, 'not-the-password')).toMatch(/^-WRONGPASS[^]*-NOAUTH/);
  });

  it('keeps the passwords in files only their owner can read', async () => {
    expect((await stat(join(DATA, 'secrets'))).mode & 0o777).toBe(0o700);
    for (const name of ['postgres.password', 'redis.password', 'redis.conf']) {
      expect({ name, mode: (await stat(join(DATA, 'secrets', name))).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    }
    expect(readIfExists(join(DATA, 'secrets', 'postgres.password'))?.trim()).toBe(databaseUrl.password);
    expect(readIfExists(join(DATA, 'secrets', 'redis.password'))?.trim()).toBe(redisUrl.password);
  });

  it('the platform finds them when DATABASE_URL and REDIS_URL are not set', async () => {
    const config = loadConfig(
      { KAAS_DATA_DIR: DATA, KAAS_SECRET_KEY: 'a'.repeat(64), KAAS_ADMIN_TOKEN: 'admin-token-of-a-test' },
      readIfExists,
    );
    expect(new URL(config.databaseUrl).password).toBe(databaseUrl.password);
    expect(new URL(config.redisUrl).password).toBe(redisUrl.password);
    // A data folder without them keeps the plain defaults.
    const bare = loadConfig(
      { KAAS_DATA_DIR: join(DATA, 'no-such-folder'), KAAS_SECRET_KEY: 'a'.repeat(64) },
      readIfExists,
    );
    expect(bare.databaseUrl).toBe('postgres://kaas@127.0.0.1:55432/kaas');
    expect(bare.redisUrl).toBe('redis://127.0.0.1:56379');
  });
});
