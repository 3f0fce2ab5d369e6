import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createClusterSecrets, issueCertificate, type ClusterSecrets } from '../../src/control-plane/cluster-pki.js';
import {
  checkEtcdSnapshot,
  MAX_SNAPSHOT_LINE_BYTES,
  simulatedEtcdSnapshot,
  takeEtcdSnapshot,
  type EtcdSnapshotRequest,
} from '../../src/control-plane/etcd-snapshot.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** A snapshot file as etcd's gateway streams it: 32 KiB chunks, remaining_bytes left out when 0, then the sha256. */
function gatewayLines(file: Buffer, chunk = 32 * 1024): string[] {
  const db = file.subarray(0, file.length - 32);
  const lines: string[] = [];
  for (let at = 0; at < db.length; at += chunk) {
    const blob = db.subarray(at, at + chunk);
    const remaining = db.length - at - blob.length;
    lines.push(
      JSON.stringify({
        result: { ...(remaining ? { remaining_bytes: String(remaining) } : {}), blob: blob.toString('base64') },
      }),
    );
  }
  lines.push(JSON.stringify({ result: { blob: file.subarray(db.length).toString('base64') } }));
  return lines;
}

/** Control characters, C1 controls and bidi overrides in `text`. */
const controls = (text: string) =>
  [...text].filter(
    (c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f) || c === '\u202e',
  );

const json = (res: ServerResponse, status = 200, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers });

/**
 * takeEtcdSnapshot against a stand-in etcd that the tenant controls: TLS from the cluster CA, the
 * admin client certificate required, and an answer picked per test.
 */
describe('etcd snapshot from a hostile endpoint', () => {
  let secrets: ClusterSecrets;
  let server: Server;
  let port: number;
  let answer: Answer;
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const every = (ms: number, f: () => void, res: ServerResponse) => {
    const t = setInterval(f, ms);
    timers.add(t);
    res.on('close', () => clearInterval(t));
  };

  const startServer = async (cert: { certPem: string; keyPem: string }): Promise<{ server: Server; port: number }> => {
    const s = createServer(
      { cert: cert.certPem, key: cert.keyPem, ca: secrets.caCertPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push({ method: req.method, url: req.url, headers: req.headers, body });
          res.on('error', () => undefined);
          answer(req, res);
        });
      },
    );
    const p = await new Promise<number>((resolve) =>
      s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)),
    );
    return { server: s, port: p };
  };
  const stopServer = async (s: Server) => {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  };

  beforeAll(async () => {
    secrets = await createClusterSecrets('hostile-etcd');
    const serving = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'm1' },
      { server: true, client: true, ips: ['127.0.0.1'] },
    );
    ({ server, port } = await startServer(serving));
  });
  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    await stopServer(server);
  });

  const take = (over: Partial<EtcdSnapshotRequest> = {}) =>
    takeEtcdSnapshot({
      url: `https://127.0.0.1:${port}`,
      tls: { caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem },
      maxBytes: 1024 * 1024,
      timeoutMs: 5000,
      idleMs: 2000,
      ...over,
    });
  const lines =
    (ls: string[], end = '\n'): Answer =>
    (_req, res) => {
      json(res);
      res.end(ls.join('\n') + end);
    };
  /** Fails, soon, with `pattern`; gives the time it took. */
  const refused = async (pattern: RegExp, over: Partial<EtcdSnapshotRequest> = {}, withinMs = 3000) => {
    const started = Date.now();
    const err = await take(over).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(pattern);
    expect(err?.message).toMatch(/^etcd snapshot from https:\/\/127\.0\.0\.1:\d+: /);
    expect(Date.now() - started).toBeLessThan(withinMs);
    return err!;
  };

  it('reads a well-formed stream: the database, then its sha256, with a client certificate and no compression', async () => {
    const file = simulatedEtcdSnapshot(randomBytes(100 * 1024));
    answer = lines(gatewayLines(file, 10000));
    seen.length = 0;
    const got = await take();
    expect(got.equals(file)).toBe(true);
    expect(checkEtcdSnapshot(got)).toEqual({
      ok: true,
      sha256: createHash('sha256').update(file).digest('hex'),
      dbBytes: file.length - 32,
    });
    expect(seen).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/v3/maintenance/snapshot',
        body: '{}',
        headers: expect.objectContaining({ 'accept-encoding': 'identity' }),
      }),
    ]);
  });

  it('follows no redirect', async () => {
    answer = (_req, res) => {
      res.writeHead(307, { location: `https://127.0.0.1:${port}/elsewhere` });
      res.end();
    };
    seen.length = 0;
    await refused(/HTTP 307: a redirect to https:\/\/127\.0\.0\.1:\d+\/elsewhere, which is not followed/);
    expect(seen.map((s) => s.url)).toEqual(['/v3/maintenance/snapshot']);
  });

  it('refuses a compressed answer', async () => {
    const body = gzipSync(gatewayLines(simulatedEtcdSnapshot(Buffer.from('x'))).join('\n') + '\n');
    answer = (_req, res) => {
      json(res, 200, { 'content-encoding': 'gzip' });
      res.end(body);
    };
    await refused(/a compressed answer \(content-encoding gzip\) is refused/);
  });

  /** Writes what `next` makes as fast as the client reads, up to `limit` bytes; counts what it wrote. */
  const flood =
    (next: () => Buffer, limit: number, sent: { bytes: number }, first = ''): Answer =>
    (_req, res) => {
      json(res);
      if (first) res.write(first);
      const pump = () => {
        while (!res.destroyed && sent.bytes < limit) {
          const block = next();
          sent.bytes += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      pump();
    };

  it('stops at the line cap on an endless line, having read little more than the cap', async () => {
    const sent = { bytes: 0 };
    const block = Buffer.alloc(64 * 1024, 0x41);
    answer = flood(() => block, 512 * 1024 * 1024, sent, '{"result":{"blob":"');
    const heapBefore = process.memoryUsage().heapUsed;
    await refused(new RegExp(`a line longer than ${MAX_SNAPSHOT_LINE_BYTES} bytes`), { maxBytes: 1024 * 1024 * 1024 });
    // What the client read plus socket buffers: nowhere near the 512 MiB the server would send.
    expect(sent.bytes).toBeLessThan(MAX_SNAPSHOT_LINE_BYTES + 16 * 1024 * 1024);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('stops at the byte cap when lines stay short but carry next to nothing', async () => {
    // Valid lines, 3 data bytes each in 256 KiB of JSON whitespace: the wire cap ends it.
    const sent = { bytes: 0 };
    let remaining = 3_000_000;
    const pad = ' '.repeat(256 * 1024);
    answer = flood(
      () => Buffer.from(`{"result":{"remaining_bytes":"${(remaining -= 3)}","blob":"AAAA"}${pad}}\n`),
      512 * 1024 * 1024,
      sent,
    );
    await refused(/an answer larger than \d+ bytes/, { maxBytes: 4 * 1024 * 1024 });
    expect(sent.bytes).toBeLessThan(6 * 1024 * 1024 + 16 * 1024 * 1024);
  });

  it('refuses a snapshot that announces more than maxBytes, at its first message', async () => {
    answer = lines([JSON.stringify({ result: { remaining_bytes: String(10 * 1024 * 1024), blob: 'AAAA' } })]);
    await refused(/announces a snapshot of 10485795 bytes, more than the 1048576 allowed/);
  });

  it('refuses more data than announced', async () => {
    const file = simulatedEtcdSnapshot(randomBytes(50000));
    const ls = gatewayLines(file, 8192);
    ls.splice(2, 0, ls[1]); // a chunk twice
    answer = lines(ls);
    await refused(/a chunk of 8192 bytes with \d+ remaining where \d+ were still to come/);
  });

  it('gives up on a drip of one byte per 200 ms at the idle deadline', async () => {
    answer = (_req, res) => {
      json(res);
      res.write('{');
      every(200, () => res.write(' '), res);
    };
    await refused(/no message for 1000 ms/, { idleMs: 1000, timeoutMs: 20000 }, 2500);
  });

  it('gives up at the whole deadline on a steady trickle of valid messages', async () => {
    answer = (_req, res) => {
      json(res);
      let remaining = 100000;
      every(300, () => res.write(`{"result":{"remaining_bytes":"${(remaining -= 3)}","blob":"AAAA"}}\n`), res);
    };
    await refused(/no complete snapshot within 1500 ms/, { idleMs: 1000, timeoutMs: 1500 }, 3000);
  });

  it('gives up on a server that stays silent, after the TLS handshake and before it', async () => {
    answer = () => undefined;
    await refused(/within 1000 ms/, { idleMs: undefined, timeoutMs: 1000 }, 2500);

    const sockets = new Set<Socket>();
    const mute: TcpServer = createTcpServer((s) => sockets.add(s));
    const mutePort = await new Promise<number>((r) =>
      mute.listen(0, '127.0.0.1', () => r((mute.address() as { port: number }).port)),
    );
    try {
      await refused(/no answer within 800 ms/, { url: `https://127.0.0.1:${mutePort}`, idleMs: 800 }, 2500);
    } finally {
      for (const s of sockets) s.destroy();
      mute.close();
    }
  });

  it('turns error objects into one clean, short line', async () => {
    const good = gatewayLines(simulatedEtcdSnapshot(Buffer.from('x')), 4096)[0];
    const nasty = 'disk \u001b[31mfull\r\nlevel=info msg=forged\u202e\u0000' + 'z'.repeat(5000);
    // In the stream, as etcd's gateway ends one: no newline.
    answer = lines(
      [
        good,
        JSON.stringify({
          error: { grpc_code: 14, http_code: 503, message: nasty, http_status: 'Service Unavailable' },
        }),
      ],
      '',
    );
    let err = await refused(/etcd said: disk \[31mfull level=info msg=forged z+… \(gRPC code 14\)$/);
    expect(controls(err.message)).toEqual([]);
    expect(err.message.length).toBeLessThan(400);

    // Before the stream, as a non-200 answer.
    answer = (_req, res) => {
      json(res, 400);
      res.end(JSON.stringify({ error: nasty, message: nasty, code: 3 }));
    };
    err = await refused(/HTTP 400: etcd said: disk \[31mfull level=info msg=forged z+… \(gRPC code 3\)$/);
    expect(controls(err.message)).toEqual([]);

    answer = (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(`<html>\n<b>bad\u001b gateway</b>${'y'.repeat(200000)}`);
    };
    err = await refused(/HTTP 502: <html> <b>bad gateway<\/b>y+…$/);
    expect(err.message.length).toBeLessThan(400);
  });

  it.each([
    ['a blob that is not base64', [JSON.stringify({ result: { blob: 'not base64!' } })], /"blob" is not base64/],
    ['a blob that is not a string', [JSON.stringify({ result: { blob: 42 } })], /"blob" is not base64/],
    ['no result', [JSON.stringify({ header: { revision: '3' } })], /an object without "result"/],
    [
      'remaining_bytes as a number',
      [JSON.stringify({ result: { remaining_bytes: 5, blob: 'AAAA' } })],
      /"remaining_bytes" is not a decimal string/,
    ],
    [
      'remaining_bytes negative',
      [JSON.stringify({ result: { remaining_bytes: '-5', blob: 'AAAA' } })],
      /"remaining_bytes" is not a decimal string/,
    ],
    ['a line that is not JSON', ['{"result": nope'], /a line that is not JSON: \{"result": nope/],
    ['an array', ['[1,2]'], /a line that is not a JSON object/],
    ['an error of unknown shape', [JSON.stringify({ error: 7 })], /an error object of unknown shape/],
    ['nothing at all', [''], /the stream ended without any data/],
  ])('refuses %s', async (_what, ls, pattern) => {
    answer = lines(ls as string[]);
    await refused(pattern as RegExp);
  });

  it('refuses a stream that stops short, lacks its checksum, or goes on after it', async () => {
    const ls = gatewayLines(simulatedEtcdSnapshot(randomBytes(20000)), 8192);
    answer = lines(ls.slice(0, 2));
    await refused(/the stream ended after 16384 of 28672 database bytes/);
    answer = lines(ls.slice(0, -1));
    await refused(/the stream ended without the checksum/);
    answer = lines([...ls, ls.at(-1)!]);
    await refused(/more messages after the checksum/);
    answer = lines([...ls.slice(0, -1), JSON.stringify({ result: { blob: Buffer.alloc(16).toString('base64') } })]);
    await refused(/a checksum of 16 bytes \(0 remaining\) where a sha256 was due/);
    answer = (_req, res) => {
      json(res);
      res.write(`${ls[0]}\n${ls[1].slice(0, 100)}`);
      setTimeout(() => res.socket?.destroy(), 50);
    };
    await refused(/closed in the middle of the answer/);
  });

  it('returns a stream whose trailing hash is wrong, which checkEtcdSnapshot refuses', async () => {
    const file = simulatedEtcdSnapshot(randomBytes(30000));
    file[file.length - 1] ^= 0x01;
    answer = lines(gatewayLines(file));
    const got = await take();
    expect(got.equals(file)).toBe(true);
    expect(checkEtcdSnapshot(got)).toEqual({ ok: false, reason: 'the trailing sha256 does not match the database' });
  });

  it('checks the server certificate against the cluster CA, and by servername when asked', async () => {
    const other = await createClusterSecrets('someone-else');
    const foreign = await startServer(
      await issueCertificate(
        { certPem: other.caCertPem, keyPem: other.caKeyPem },
        { commonName: 'm1' },
        { server: true, ips: ['127.0.0.1'] },
      ),
    );
    const named = await startServer(
      await issueCertificate(
        { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
        { commonName: 'm1' },
        { server: true, dns: ['etcd.cluster.internal'] },
      ),
    );
    try {
      answer = lines(gatewayLines(simulatedEtcdSnapshot(Buffer.from('ok'))));
      await refused(/certificate/i, { url: `https://127.0.0.1:${foreign.port}` });
      await refused(/IP: 127\.0\.0\.1 is not in the cert's list/, { url: `https://127.0.0.1:${named.port}` });
      const got = await take({ url: `https://127.0.0.1:${named.port}`, servername: 'etcd.cluster.internal' });
      expect(checkEtcdSnapshot(got).ok).toBe(true);
    } finally {
      await stopServer(foreign.server);
      await stopServer(named.server);
    }
  });

  it('takes only an https://host:port endpoint', async () => {
    await expect(take({ url: 'http://127.0.0.1:2379' })).rejects.toThrow(/is not https:\/\/host:port/);
    await expect(take({ url: 'https://127.0.0.1:2379/v3/kv/range' })).rejects.toThrow(/is not https:\/\/host:port/);
    await expect(take({ url: 'not a url' })).rejects.toThrow(/is not a URL/);
  });
});

/** bbolt's meta checksum, written here from its definition to forge consistent meta pages. */
function fnv1a64(bytes: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

describe('checkEtcdSnapshot and simulatedEtcdSnapshot', () => {
  const withHash = (db: Buffer) => Buffer.concat([db, createHash('sha256').update(db).digest()]);

  it('accepts a simulated snapshot of any content, and the same content gives the same file', () => {
    for (const content of [Buffer.alloc(0), Buffer.from('etcd'), randomBytes(3 * 4096), randomBytes(70000)]) {
      const file = simulatedEtcdSnapshot(content);
      const check = checkEtcdSnapshot(file);
      expect(check).toEqual({
        ok: true,
        sha256: createHash('sha256').update(file).digest('hex'),
        dbBytes: file.length - 32,
      });
      expect(file.subarray(2 * 4096, 2 * 4096 + content.length).equals(content)).toBe(true);
      expect(simulatedEtcdSnapshot(content).equals(file)).toBe(true);
    }
  });

  it('refuses garbage, even with a matching hash', () => {
    expect(checkEtcdSnapshot(Buffer.alloc(0))).toEqual({ ok: false, reason: expect.stringMatching(/too short/) });
    expect(checkEtcdSnapshot(withHash(randomBytes(8192)))).toEqual({
      ok: false,
      reason: 'not a bolt database (no meta page magic)',
    });
    expect(checkEtcdSnapshot(withHash(randomBytes(8000)))).toEqual({
      ok: false,
      reason: expect.stringMatching(/512-byte blocks/),
    });
    const file = simulatedEtcdSnapshot(Buffer.from('content'));
    expect(checkEtcdSnapshot(file.subarray(0, file.length - 1)).ok).toBe(false);
  });

  it('needs one good meta page of the two, as bbolt does', () => {
    const file = simulatedEtcdSnapshot(Buffer.from('content'));
    const db = file.subarray(0, file.length - 32);
    const oneBad = Buffer.from(db);
    oneBad[16 + 48] ^= 0xff; // meta page 0's txid: its checksum no longer matches
    expect(checkEtcdSnapshot(withHash(oneBad)).ok).toBe(true);
    const bothBad = Buffer.from(oneBad);
    bothBad[4096 + 16 + 48] ^= 0xff;
    expect(checkEtcdSnapshot(withHash(bothBad))).toEqual({
      ok: false,
      reason: expect.stringMatching(/checksum does not match.*checksum does not match/),
    });
    // Consistent meta pages that claim more pages than the file holds.
    const tooManyPages = Buffer.from(db);
    for (const at of [16, 4096 + 16]) {
      tooManyPages.writeBigUInt64LE(1000n, at + 40);
      tooManyPages.writeBigUInt64LE(fnv1a64(tooManyPages.subarray(at, at + 56)), at + 56);
    }
    expect(checkEtcdSnapshot(withHash(tooManyPages))).toEqual({
      ok: false,
      reason: 'not a bolt database (1000 pages of 4096 bytes in 12288)',
    });
  });
});
