import { constants } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { untrustedText } from '../common/untrusted-text.js';
import type { ClusterTls } from './control-plane-leave.js';

/**
 * etcd backups taken from outside the guests, through the cluster's endpoint: etcd's v3 snapshot
 * API over its JSON gateway, `POST /v3/maintenance/snapshot` with `{}`. etcd 3.4's gateway
 * (grpc-gateway v1) answers 200 with a chunked stream of JSON objects, one a line:
 *
 *   {"result":{"remaining_bytes":"176128","blob":"<base64 of up to 32 KiB>"}}\n
 *   ...
 *   {"result":{"blob":"<base64 of the last chunk>"}}\n      remaining_bytes 0 is left out
 *   {"result":{"blob":"<base64 of sha256(db)>"}}\n          the checksum, 32 bytes
 *
 * The database's chunks add up to the size the first one announces (its blob plus its
 * remaining_bytes); the message after them is the SHA-256 of the database, which etcdctl writes
 * after it: the snapshot file is db || sha256(db), and `etcdctl snapshot restore` checks it.
 * A failure inside the stream is a last object `{"error":{"grpc_code":…,"message":…}}`, without
 * a newline; one before the stream is a non-200 answer `{"error":"…","message":"…","code":…}`.
 *
 * The tenant controls the cluster, hence its answer: it is read under a whole-call deadline and
 * an idle deadline (time to the next complete message, so a drip does not count as progress),
 * within a cap on the bytes on the wire and on any one line, never redirected, never decoded
 * from a content-encoding, and every object is checked before use.
 */

export interface EtcdSnapshotRequest {
  /** The cluster's etcd endpoint, `https://host:port`. */
  url: string;
  /** The cluster CA (which the server's certificate must chain to) and the admin client certificate. */
  tls: ClusterTls;
  /**
   * The largest snapshot file accepted (database and its 32-byte checksum). The file is held in
   * memory: at most this much, once the first message announces the size, plus one line.
   */
  maxBytes: number;
  /** The whole call's deadline. */
  timeoutMs: number;
  /** The longest wait for the answer's headers and then for each next message (default 30 s, at most timeoutMs). */
  idleMs?: number;
  /** The name the server's certificate must carry, when not the URL's host. */
  servername?: string;
}

/** No line of etcd's is near this (a 32 KiB chunk is 43,7xx bytes): more is no etcd. */
export const MAX_SNAPSHOT_LINE_BYTES = 1024 * 1024;
/** A non-200 answer is read this far, for its message. */
const MAX_ERROR_ANSWER_BYTES = 64 * 1024;
const DEFAULT_IDLE_MS = 30000;
const SHA256_BYTES = 32;
const DECIMAL = /^[0-9]{1,16}$/;

/**
 * Bytes on the wire for a snapshot of `maxBytes`: base64 is 4/3 of the data, and the JSON around
 * each 32 KiB chunk adds about 0.1 %; 5 % and 64 KiB leave room for a gateway that cuts smaller.
 */
function wireCap(maxBytes: number): number {
  return Math.ceil(((maxBytes * 4) / 3) * 1.05) + 64 * 1024;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Standard base64 with padding, as Go's encoding/json writes []byte. (Not one regular expression
 * over the whole string: V8 runs out of backtracking stack on a repeated group a few MB long.)
 */
function isBase64(s: string): boolean {
  if (s.length % 4 !== 0 || /[^A-Za-z0-9+/=]/.test(s)) return false;
  const pad = s.indexOf('=');
  return pad === -1 || (pad >= s.length - 2 && /^=+$/.test(s.slice(pad)));
}

/** An error object of etcd's gateway, in either form, as one cleaned line. */
function etcdErrorText(body: Record<string, unknown>): string | undefined {
  const { error } = body;
  let message: unknown;
  let code: unknown;
  if (isObject(error)) {
    message = error.message;
    code = error.grpc_code;
  } else if (typeof error === 'string') {
    message = typeof body.message === 'string' && body.message ? body.message : error;
    code = body.code;
  } else return undefined;
  const text = typeof message === 'string' && message.trim() ? untrustedText(message, 300) : '(no message)';
  const grpc = Number.isInteger(code) && (code as number) >= 0 && (code as number) <= 16 ? ` (gRPC code ${code})` : '';
  return `etcd said: ${text}${grpc}`;
}

interface Chunk {
  blob: Buffer;
  remaining: number;
}

/** One `{"result":{...}}` line, checked; an error object becomes an Error. */
function parseLine(line: string): Chunk {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    throw new Error(`a line that is not JSON: ${untrustedText(line, 80)}`);
  }
  if (!isObject(body)) throw new Error('a line that is not a JSON object');
  if (body.error !== undefined) throw new Error(etcdErrorText(body) ?? 'an error object of unknown shape');
  const result = body.result;
  if (!isObject(result)) throw new Error('an object without "result"');
  const { blob, remaining_bytes: remaining } = result;
  if (typeof blob !== 'string' || !isBase64(blob)) throw new Error('a "result" whose "blob" is not base64');
  // The gateway writes uint64 as a decimal string and leaves a zero out.
  if (remaining !== undefined && (typeof remaining !== 'string' || !DECIMAL.test(remaining)))
    throw new Error('a "result" whose "remaining_bytes" is not a decimal string');
  return { blob: Buffer.from(blob, 'base64'), remaining: remaining === undefined ? 0 : Number(remaining) };
}

/**
 * Puts the chunks together in the order etcd sends them: the database (whose size the first
 * chunk announces), then its 32-byte checksum, then nothing.
 */
class SnapshotAssembly {
  private file: Buffer | undefined;
  private dbBytes = 0;
  private written = 0;
  private checksummed = false;

  constructor(private readonly maxBytes: number) {}

  add({ blob, remaining }: Chunk): void {
    if (this.checksummed) throw new Error('more messages after the checksum');
    if (!this.file) {
      if (blob.length === 0) throw new Error('a first chunk without data');
      const total = blob.length + remaining + SHA256_BYTES;
      if (total > this.maxBytes)
        throw new Error(`etcd announces a snapshot of ${total} bytes, more than the ${this.maxBytes} allowed`);
      this.dbBytes = blob.length + remaining;
      this.file = Buffer.alloc(total);
    }
    if (this.written < this.dbBytes) {
      const left = this.dbBytes - this.written;
      if (blob.length === 0 || blob.length > left || remaining !== left - blob.length)
        throw new Error(`a chunk of ${blob.length} bytes with ${remaining} remaining where ${left} were still to come`);
      blob.copy(this.file, this.written);
      this.written += blob.length;
      return;
    }
    if (blob.length !== SHA256_BYTES || remaining !== 0)
      throw new Error(`a checksum of ${blob.length} bytes (${remaining} remaining) where a sha256 was due`);
    blob.copy(this.file, this.dbBytes);
    this.checksummed = true;
  }

  finish(): Buffer {
    if (!this.file) throw new Error('the stream ended without any data');
    if (this.written < this.dbBytes)
      throw new Error(`the stream ended after ${this.written} of ${this.dbBytes} database bytes`);
    if (!this.checksummed) throw new Error('the stream ended without the checksum');
    return this.file;
  }
}

function endpointOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`etcd snapshot: "${untrustedText(url, 200)}" is not a URL`);
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname))
    throw new Error(`etcd snapshot: "${untrustedText(url, 200)}" is not https://host:port`);
  return u.origin;
}

/**
 * The cluster's etcd snapshot, as `etcdctl snapshot save` writes it: the bolt database followed
 * by its SHA-256. The transfer is checked (shape, sizes, order); the content is not: run
 * checkEtcdSnapshot on the result before keeping it.
 */
export async function takeEtcdSnapshot(opts: EtcdSnapshotRequest): Promise<Buffer> {
  const base = endpointOf(opts.url);
  const { maxBytes, timeoutMs } = opts;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= SHA256_BYTES || maxBytes > constants.MAX_LENGTH)
    throw new Error(`etcd snapshot: maxBytes must be an integer from ${SHA256_BYTES + 1} to ${constants.MAX_LENGTH}`);
  if (!(timeoutMs > 0)) throw new Error('etcd snapshot: timeoutMs must be positive');
  const idleMs = Math.min(opts.idleMs ?? DEFAULT_IDLE_MS, timeoutMs);
  const url = `${base}/v3/maintenance/snapshot`;
  const what = `etcd snapshot from ${base}`;
  const maxWire = wireCap(maxBytes);
  const maxLine = Math.min(MAX_SNAPSHOT_LINE_BYTES, maxWire);
  const payload = Buffer.from('{}');

  return await new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    // Called only from callbacks, once `req`, `deadline` and `idle` exist.
    function settle(err: Error | undefined, value?: Buffer): void {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(idle);
      req.destroy();
      // TLS errors quote the server's certificate: one clean line, like everything else.
      if (err) reject(new Error(`${what}: ${untrustedText(err.message, 600)}`));
      else resolve(value!);
    }
    const fail = (err: Error) => settle(err);
    let idle: NodeJS.Timeout;
    let idleWhat = `no answer within ${idleMs} ms`;
    const rearm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => fail(new Error(idleWhat)), idleMs);
    };

    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        ca: opts.tls.caPem,
        cert: opts.tls.certPem,
        key: opts.tls.keyPem,
        rejectUnauthorized: true,
        ...(opts.servername ? { servername: opts.servername } : {}),
        headers: {
          accept: 'application/json',
          'accept-encoding': 'identity',
          'content-type': 'application/json',
          'content-length': payload.length,
        },
      },
      (res) => {
        idleWhat = `no message for ${idleMs} ms`;
        rearm();
        const encoding = res.headers['content-encoding'];
        if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity')
          return fail(new Error(`a compressed answer (content-encoding ${untrustedText(encoding, 40)}) is refused`));
        if (res.statusCode !== 200) return readRefusal(res);
        const length = Number(res.headers['content-length']);
        if (length > maxWire) return fail(new Error(`an answer of ${length} bytes, more than ${maxWire}`));
        readStream(res);
      },
    );

    function readRefusal(res: IncomingMessage): void {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        const to = res.headers.location ? ` to ${untrustedText(res.headers.location, 200)}` : '';
        return fail(new Error(`HTTP ${status}: a redirect${to}, which is not followed`));
      }
      const parts: Buffer[] = [];
      let size = 0;
      const done = () => {
        const text = Buffer.concat(parts).toString('utf8');
        let said: string | undefined;
        try {
          const body: unknown = JSON.parse(text);
          said = isObject(body) ? etcdErrorText(body) : undefined;
        } catch {
          said = undefined;
        }
        fail(new Error(`HTTP ${status}: ${said ?? (untrustedText(text, 300) || 'no message')}`));
      };
      res.on('data', (c: Buffer) => {
        const room = MAX_ERROR_ANSWER_BYTES - size;
        if (room > 0) parts.push(c.subarray(0, room));
        size += c.length;
        if (size >= MAX_ERROR_ANSWER_BYTES) done();
      });
      res.on('end', done);
      res.on('close', done);
      res.on('error', fail);
    }

    function readStream(res: IncomingMessage): void {
      const assembly = new SnapshotAssembly(maxBytes);
      let wire = 0;
      let line: Buffer[] = [];
      let lineBytes = 0;
      const take = (bytes: Buffer) => {
        const text = bytes.toString('utf8');
        if (text.trim() === '') return;
        assembly.add(parseLine(text));
        rearm();
      };
      res.on('data', (c: Buffer) => {
        if (settled) return;
        wire += c.length;
        if (wire > maxWire) return fail(new Error(`an answer larger than ${maxWire} bytes`));
        try {
          let from = 0;
          for (let nl = c.indexOf(0x0a, from); nl !== -1; nl = c.indexOf(0x0a, from)) {
            if (lineBytes + nl - from > maxLine) throw new Error(`a line longer than ${maxLine} bytes`);
            line.push(c.subarray(from, nl));
            take(line.length === 1 ? line[0] : Buffer.concat(line));
            line = [];
            lineBytes = 0;
            from = nl + 1;
          }
          if (from < c.length) {
            lineBytes += c.length - from;
            if (lineBytes > maxLine) throw new Error(`a line longer than ${maxLine} bytes`);
            line.push(c.subarray(from));
          }
        } catch (err) {
          fail(err as Error);
        }
      });
      res.on('end', () => {
        if (settled) return;
        try {
          if (!res.complete) throw new Error('the connection closed in the middle of the answer');
          // etcd's gateway ends an error object without a newline.
          if (lineBytes > 0) take(Buffer.concat(line));
          settle(undefined, assembly.finish());
        } catch (err) {
          fail(err as Error);
        }
      });
      // Node says "aborted" when the connection closes before the answer's end.
      const cut = () => fail(new Error('the connection closed in the middle of the answer'));
      res.on('error', cut);
      res.on('close', cut);
    }

    const deadline = setTimeout(() => fail(new Error(`no complete snapshot within ${timeoutMs} ms`)), timeoutMs);
    rearm();
    req.on('error', fail);
    req.end(payload);
  });
}

export type EtcdSnapshotCheck = { ok: true; sha256: string; dbBytes: number } | { ok: false; reason: string };

/** bbolt's meta page: a 16-byte page header (id u64, flags u16, count u16, overflow u32), then the meta. */
const BOLT_MAGIC = 0xed0cdaed;
const BOLT_VERSION = 2;
const BOLT_META_PAGE_FLAG = 0x04;
const PAGE_HEADER_BYTES = 16;
/** magic, version, pageSize, flags (u32 each); root bucket (root, sequence), freelist, pgid, txid (u64 each). */
const META_CHECKED_BYTES = 56;
/** What etcdctl requires of a file with a checksum: the database is a whole number of 512-byte blocks. */
const DB_BLOCK = 512;

/** FNV-1a, 64 bits: bbolt's meta checksum. */
function fnv1a64(bytes: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

/** Why the meta page at `offset` is not bbolt's, or undefined when it is (little-endian, as etcd's hosts write it). */
function metaProblem(db: Buffer, offset: number, id: number): string | undefined {
  if (db.length < offset + PAGE_HEADER_BYTES + META_CHECKED_BYTES + 8) return `no meta page ${id}`;
  if (db.readUInt32LE(offset + PAGE_HEADER_BYTES) !== BOLT_MAGIC) return `meta page ${id} lacks bolt's magic`;
  if (db.readUInt16LE(offset + 8) !== BOLT_META_PAGE_FLAG) return `page ${id} is not flagged as a meta page`;
  if (db.readUInt32LE(offset + PAGE_HEADER_BYTES + 4) !== BOLT_VERSION) return `meta page ${id} is not bolt version 2`;
  const meta = db.subarray(offset + PAGE_HEADER_BYTES, offset + PAGE_HEADER_BYTES + META_CHECKED_BYTES);
  if (fnv1a64(meta) !== db.readBigUInt64LE(offset + PAGE_HEADER_BYTES + META_CHECKED_BYTES))
    return `meta page ${id}'s checksum does not match`;
  return undefined;
}

/**
 * Whether `data` is an etcd snapshot file: a bolt database (its meta pages where bbolt puts them,
 * with their magic, version and checksums) followed by the SHA-256 of the database's bytes.
 */
export function checkEtcdSnapshot(data: Buffer): EtcdSnapshotCheck {
  const dbBytes = data.length - SHA256_BYTES;
  if (dbBytes < 2 * DB_BLOCK) return { ok: false, reason: `${data.length} bytes is too short for a snapshot` };
  if (dbBytes % DB_BLOCK !== 0)
    return { ok: false, reason: `${data.length} bytes is not a database of 512-byte blocks and a sha256` };
  const db = data.subarray(0, dbBytes);
  if (!createHash('sha256').update(db).digest().equals(data.subarray(dbBytes)))
    return { ok: false, reason: 'the trailing sha256 does not match the database' };
  const first = metaProblem(db, 0, 0);
  if (first && db.readUInt32LE(PAGE_HEADER_BYTES) !== BOLT_MAGIC)
    return { ok: false, reason: 'not a bolt database (no meta page magic)' };
  const pageSize = db.readUInt32LE(PAGE_HEADER_BYTES + 8);
  if (pageSize < DB_BLOCK || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0 || dbBytes % pageSize !== 0)
    return { ok: false, reason: `not a bolt database (page size ${pageSize} does not fit ${dbBytes} bytes)` };
  const second = metaProblem(db, pageSize, 1);
  // bbolt opens a database with one good meta page of the two.
  const good = !first ? 0 : !second ? pageSize : undefined;
  if (good === undefined) return { ok: false, reason: `not a bolt database (${first}; ${second})` };
  const pages = db.readBigUInt64LE(good + PAGE_HEADER_BYTES + 40);
  if (pages < 2n || pages * BigInt(pageSize) > BigInt(dbBytes))
    return { ok: false, reason: `not a bolt database (${pages} pages of ${pageSize} bytes in ${dbBytes})` };
  return { ok: true, sha256: createHash('sha256').update(data).digest('hex'), dbBytes };
}

function writeMeta(file: Buffer, id: number, pageSize: number, pages: number, txid: number): void {
  const at = id * pageSize;
  file.writeBigUInt64LE(BigInt(id), at);
  file.writeUInt16LE(BOLT_META_PAGE_FLAG, at + 8);
  const m = at + PAGE_HEADER_BYTES;
  file.writeUInt32LE(BOLT_MAGIC, m);
  file.writeUInt32LE(BOLT_VERSION, m + 4);
  file.writeUInt32LE(pageSize, m + 8);
  file.writeBigUInt64LE(2n, m + 16); // root bucket: the first page after the metas
  file.writeBigUInt64LE(0xffffffffffffffffn, m + 32); // no freelist page, as etcd runs bbolt
  file.writeBigUInt64LE(BigInt(pages), m + 40);
  file.writeBigUInt64LE(BigInt(txid), m + 48);
  file.writeBigUInt64LE(fnv1a64(file.subarray(m, m + META_CHECKED_BYTES)), m + META_CHECKED_BYTES);
}

/**
 * A file of a snapshot's shape for a simulated cluster (which runs no etcd): two bolt meta pages,
 * `content` padded to whole pages, and the sha256 of it all, so that it passes checkEtcdSnapshot
 * like a real one. No etcd can restore it.
 */
export function simulatedEtcdSnapshot(content: Buffer): Buffer {
  const pageSize = 4096;
  const pages = 2 + Math.max(1, Math.ceil(content.length / pageSize));
  const dbBytes = pages * pageSize;
  const file = Buffer.alloc(dbBytes + SHA256_BYTES);
  // Page ids are txid % 2, as bbolt writes them.
  writeMeta(file, 0, pageSize, pages, 2);
  writeMeta(file, 1, pageSize, pages, 1);
  content.copy(file, 2 * pageSize);
  createHash('sha256').update(file.subarray(0, dbBytes)).digest().copy(file, dbBytes);
  return file;
}
