// A minimal stand-in for libvirtd on the far end of a remote connection, used
// to test what happens when the daemon goes away. libvirt runs it through the
// `ext` transport (URI `test+ext:///default?command=/path/to/wrapper`) with
// the RPC stream on stdin/stdout. It answers just enough of the remote
// protocol for virConnectOpen to succeed; when it receives
// REMOTE_PROC_CONNECT_GET_HOSTNAME it exits without replying, which the client
// sees as the daemon dying (EOF) in the middle of a call.
//
// It also implements a storage volume upload (virStorageVolUpload over a
// libvirt stream): any pool exists; volume "missing" does not; an upload to
// volume "denied" is refused before the stream starts; an upload to volume
// "fail-mid" is failed by the daemon after its first data packet. A finished
// upload is written to $FAKE_LIBVIRTD_DIR/<volume> and its offset, length
// and flags to $FAKE_LIBVIRTD_DIR/<volume>.json.
//
// And the way back (virStorageVolGetInfo, virStorageVolDownload): a volume's
// content is the file $FAKE_LIBVIRTD_DIR/<volume> (empty if there is none), its
// capacity that file's size. A download sends the asked range in packets of at
// most 256 KiB, as libvirtd does, then end of file; a download of "denied" is
// refused before the stream starts; one of "fail-mid" is failed by the daemon
// after its first data packet. Downloads, finishes and aborts are appended to
// $FAKE_LIBVIRTD_DIR/downloads.log.
//
// And domain channels (virDomainOpenChannel, read through a stream): channel
// "org.kaas.status.0" of any domain, except domain "missing" (no such domain)
// and "off" (not running). What the far end sends depends on the domain:
//   "stops": "bye\n", then end of file (as when the domain stops);
//   "fails": "partial", then a stream error;
//   "dies":  "last words\n", then the daemon exits;
//   "flood": 64 packets of 64 KiB ("x" lines), then end of file;
//   others:  "hello wor", "ld\nsecond line\n", then "tick N\n" every 20 ms;
//            but if $FAKE_LIBVIRTD_DIR/<domain>.status exists, its content every
//            20 ms instead, until <domain>.stopped exists (then end of file).
// Opens, finishes and aborts are appended to $FAKE_LIBVIRTD_DIR/channels.log.
// Every other unknown call gets a VIR_ERR_NO_SUPPORT error reply.

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const REMOTE_PROGRAM = 0x20008086;
const REMOTE_PROTOCOL_VERSION = 1;
const PROC_CONNECT_OPEN = 1;
const PROC_CONNECT_CLOSE = 2;
const PROC_CONNECT_GET_HOSTNAME = 59;
const PROC_CONNECT_SUPPORTS_FEATURE = 60;
const PROC_AUTH_LIST = 66;
const PROC_STORAGE_POOL_LOOKUP_BY_NAME = 84;
const PROC_STORAGE_VOL_LOOKUP_BY_NAME = 95;
const PROC_STORAGE_VOL_GET_INFO = 98;
const PROC_STORAGE_VOL_UPLOAD = 208;
const PROC_STORAGE_VOL_DOWNLOAD = 209;
const PROC_DOMAIN_LOOKUP_BY_NAME = 23;
const PROC_DOMAIN_OPEN_CHANNEL = 296;
const TYPE_CALL = 0;
const TYPE_REPLY = 1;
const TYPE_STREAM = 3;
const STATUS_OK = 0;
const STATUS_ERROR = 1;
const STATUS_CONTINUE = 2;
const VIR_ERR_NO_SUPPORT = 3;
const VIR_ERR_OPERATION_DENIED = 29;
const VIR_ERR_NO_STORAGE_VOL = 50;
const VIR_ERR_INTERNAL_ERROR = 1;
const VIR_ERR_NO_DOMAIN = 42;
const VIR_ERR_OPERATION_INVALID = 55;
const VIR_FROM_QEMU = 10;
const VIR_FROM_REMOTE = 13;
const VIR_FROM_STORAGE = 18;
const VIR_ERR_ERROR = 2;

const log = process.env.FAKE_LIBVIRTD_LOG === '1' ? (m) => process.stderr.write(`fake-libvirtd: ${m}\n`) : () => {};

// libvirtd's largest stream data packet (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX)
const STREAM_PACKET_MAX = 256 * 1024;
const VIR_STORAGE_VOL_FILE = 0;

function int32(v) {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

function hyper(v) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

function xdrString(s) {
  const data = Buffer.from(s, 'utf8');
  const pad = (4 - (data.length % 4)) % 4;
  return Buffer.concat([int32(data.length), data, Buffer.alloc(pad)]);
}

function send(header, status, payload, type = TYPE_REPLY) {
  const body = Buffer.concat([
    int32(header.prog),
    int32(header.vers),
    int32(header.proc),
    int32(type),
    int32(header.serial),
    int32(status),
    payload,
  ]);
  process.stdout.write(Buffer.concat([int32(body.length + 4), body]));
}

function errorPayload(message, code = VIR_ERR_NO_SUPPORT, domain = VIR_FROM_REMOTE) {
  return Buffer.concat([
    int32(code),
    int32(domain),
    int32(1),
    xdrString(message), // message (optional string, present)
    int32(VIR_ERR_ERROR), // level
    int32(0), // dom (absent)
    int32(0),
    int32(0),
    int32(0), // str1..str3 (absent)
    int32(0),
    int32(0), // int1, int2
    int32(0), // net (absent)
  ]);
}

// XDR reader over a call's arguments.
function reader(buf) {
  let pos = 0;
  return {
    int() {
      const v = buf.readInt32BE(pos);
      pos += 4;
      return v;
    },
    hyper() {
      const v = buf.readBigUInt64BE(pos);
      pos += 8;
      return Number(v);
    },
    string() {
      const len = buf.readUInt32BE(pos);
      const s = buf.toString('utf8', pos + 4, pos + 4 + len);
      pos += 4 + len + ((4 - (len % 4)) % 4);
      return s;
    },
    opaque(len) {
      const b = buf.subarray(pos, pos + len);
      pos += len;
      return b;
    },
  };
}

const POOL_UUID = Buffer.alloc(16, 7);
const DOMAIN_UUID = Buffer.alloc(16, 9);
// serial of the upload in progress -> its state
const uploads = new Map();
// serial of an open channel -> its state
const channels = new Map();
// serial of a download whose stream the client has not finished or aborted -> volume
const downloads = new Map();

function volumeFile(volume) {
  const dir = process.env.FAKE_LIBVIRTD_DIR;
  return dir ? join(dir, volume) : undefined;
}

function volumeContent(volume) {
  const file = volumeFile(volume);
  return file && existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
}

function downloadLog(line) {
  const dir = process.env.FAKE_LIBVIRTD_DIR;
  if (dir) appendFileSync(join(dir, 'downloads.log'), `${line}\n`);
}

function sendDownload(header, volume, offset, length) {
  const content = volumeContent(volume);
  const end = length === 0 ? content.length : Math.min(content.length, offset + length);
  for (let pos = offset; pos < end; pos += STREAM_PACKET_MAX) {
    send(header, STATUS_CONTINUE, content.subarray(pos, Math.min(end, pos + STREAM_PACKET_MAX)), TYPE_STREAM);
    if (volume === 'fail-mid') {
      downloads.delete(header.serial);
      send(
        header,
        STATUS_ERROR,
        errorPayload('fake daemon: read failed', VIR_ERR_OPERATION_DENIED, VIR_FROM_STORAGE),
        TYPE_STREAM,
      );
      return;
    }
  }
  send(header, STATUS_CONTINUE, Buffer.alloc(0), TYPE_STREAM); // end of file
}

function handleDownloadPacket(header, status) {
  const volume = downloads.get(header.serial);
  if (volume === undefined) return false;
  downloads.delete(header.serial);
  downloadLog(`${status === STATUS_OK ? 'finish' : 'abort'} ${volume}`);
  send(header, STATUS_OK, Buffer.alloc(0), TYPE_STREAM);
  return true;
}

function channelLog(line) {
  const dir = process.env.FAKE_LIBVIRTD_DIR;
  if (dir) appendFileSync(join(dir, 'channels.log'), `${line}\n`);
}

function openChannel(header, domain) {
  const ch = { domain, timers: [], closed: false };
  channels.set(header.serial, ch);
  const data = (text) => !ch.closed && send(header, STATUS_CONTINUE, Buffer.from(text), TYPE_STREAM);
  const later = (ms, fn) => ch.timers.push(setTimeout(() => !ch.closed && fn(), ms));
  const eof = () => send(header, STATUS_CONTINUE, Buffer.alloc(0), TYPE_STREAM);
  switch (domain) {
    case 'stops':
      data('bye\n');
      later(30, eof);
      return;
    case 'fails':
      data('partial');
      later(30, () => {
        channels.delete(header.serial);
        send(
          header,
          STATUS_ERROR,
          errorPayload('fake daemon: channel I/O error', VIR_ERR_INTERNAL_ERROR, VIR_FROM_QEMU),
          TYPE_STREAM,
        );
      });
      return;
    case 'dies':
      data('last words\n');
      later(30, () => process.exit(0));
      return;
    case 'flood': {
      const packet = Buffer.from(`${'x'.repeat(1023)}\n`.repeat(64));
      for (let i = 0; i < 64; i++) send(header, STATUS_CONTINUE, packet, TYPE_STREAM);
      eof();
      return;
    }
    default: {
      const dir = process.env.FAKE_LIBVIRTD_DIR;
      const script = dir && join(dir, `${domain}.status`);
      if (script && existsSync(script)) {
        const tick = () => {
          if (existsSync(join(dir, `${domain}.stopped`))) {
            eof();
            ch.closed = true;
            return;
          }
          data(readFileSync(script));
          later(20, tick);
        };
        tick();
        return;
      }
      data('hello wor');
      data('ld\nsecond line\n');
      let n = 0;
      ch.timers.push(setInterval(() => data(`tick ${++n}\n`), 20));
    }
  }
}

function handleChannelPacket(header, status) {
  const ch = channels.get(header.serial);
  if (!ch) return false;
  ch.closed = true;
  for (const t of ch.timers) clearTimeout(t);
  channels.delete(header.serial);
  channelLog(`${status === STATUS_OK ? 'finish' : 'abort'} ${ch.domain}`);
  // Finish and abort are confirmed with an empty OK packet on the stream.
  send(header, STATUS_OK, Buffer.alloc(0), TYPE_STREAM);
  return true;
}

function handleStream(header, status, payload) {
  if (handleChannelPacket(header, status)) return;
  if (handleDownloadPacket(header, status)) return;
  const up = uploads.get(header.serial);
  if (!up) return;
  if (status === STATUS_CONTINUE) {
    up.chunks.push(Buffer.from(payload));
    if (up.volume === 'fail-mid') {
      uploads.delete(header.serial);
      send(
        header,
        STATUS_ERROR,
        errorPayload('fake daemon: write failed', VIR_ERR_OPERATION_DENIED, VIR_FROM_STORAGE),
        TYPE_STREAM,
      );
    }
    return;
  }
  uploads.delete(header.serial);
  if (status === STATUS_OK) {
    const dir = process.env.FAKE_LIBVIRTD_DIR;
    if (dir) {
      writeFileSync(join(dir, up.volume), Buffer.concat(up.chunks));
      writeFileSync(
        join(dir, `${up.volume}.json`),
        JSON.stringify({ offset: up.offset, length: up.length, flags: up.flags }),
      );
    }
    send(header, STATUS_OK, Buffer.alloc(0), TYPE_STREAM);
  }
  // STATUS_ERROR: the client aborted; nothing to answer
}

function handle(header, args) {
  log(`call proc=${header.proc} serial=${header.serial}`);
  if (header.prog !== REMOTE_PROGRAM || header.vers !== REMOTE_PROTOCOL_VERSION) {
    send(header, STATUS_ERROR, errorPayload(`unknown program ${header.prog}`));
    return;
  }
  switch (header.proc) {
    case PROC_AUTH_LIST:
      send(header, STATUS_OK, Buffer.concat([int32(1), int32(0)])); // [REMOTE_AUTH_NONE]
      return;
    case PROC_CONNECT_SUPPORTS_FEATURE:
      send(header, STATUS_OK, int32(0));
      return;
    case PROC_CONNECT_OPEN:
      send(header, STATUS_OK, Buffer.alloc(0));
      return;
    case PROC_CONNECT_CLOSE:
      send(header, STATUS_OK, Buffer.alloc(0));
      process.exit(0);
      return;
    case PROC_STORAGE_POOL_LOOKUP_BY_NAME: {
      const name = reader(args).string();
      send(header, STATUS_OK, Buffer.concat([xdrString(name), POOL_UUID]));
      return;
    }
    case PROC_STORAGE_VOL_LOOKUP_BY_NAME: {
      const r = reader(args);
      const pool = r.string();
      r.opaque(16);
      const name = r.string();
      if (name === 'missing') {
        send(
          header,
          STATUS_ERROR,
          errorPayload(`Storage volume not found: '${name}'`, VIR_ERR_NO_STORAGE_VOL, VIR_FROM_STORAGE),
        );
        return;
      }
      send(header, STATUS_OK, Buffer.concat([xdrString(pool), xdrString(name), xdrString(`/fake/${pool}/${name}`)]));
      return;
    }
    case PROC_STORAGE_VOL_UPLOAD: {
      const r = reader(args);
      r.string(); // pool
      const volume = r.string();
      r.string(); // key
      const offset = r.hyper();
      const length = r.hyper();
      const flags = r.int();
      if (volume === 'denied') {
        send(
          header,
          STATUS_ERROR,
          errorPayload('fake daemon: upload refused', VIR_ERR_OPERATION_DENIED, VIR_FROM_STORAGE),
        );
        return;
      }
      uploads.set(header.serial, { volume, offset, length, flags, chunks: [] });
      send(header, STATUS_OK, Buffer.alloc(0));
      return;
    }
    case PROC_STORAGE_VOL_GET_INFO: {
      const r = reader(args);
      r.string(); // pool
      const volume = r.string();
      const size = volumeContent(volume).length;
      send(header, STATUS_OK, Buffer.concat([int32(VIR_STORAGE_VOL_FILE), hyper(size), hyper(size)]));
      return;
    }
    case PROC_STORAGE_VOL_DOWNLOAD: {
      const r = reader(args);
      r.string(); // pool
      const volume = r.string();
      r.string(); // key
      const offset = r.hyper();
      const length = r.hyper();
      const flags = r.int();
      downloadLog(`download ${volume} offset=${offset} length=${length} flags=${flags}`);
      if (volume === 'denied') {
        send(
          header,
          STATUS_ERROR,
          errorPayload('fake daemon: download refused', VIR_ERR_OPERATION_DENIED, VIR_FROM_STORAGE),
        );
        return;
      }
      send(header, STATUS_OK, Buffer.alloc(0));
      downloads.set(header.serial, volume);
      sendDownload(header, volume, offset, length);
      return;
    }
    case PROC_DOMAIN_LOOKUP_BY_NAME: {
      const name = reader(args).string();
      if (name === 'missing') {
        send(
          header,
          STATUS_ERROR,
          errorPayload(`Domain not found: no domain with matching name '${name}'`, VIR_ERR_NO_DOMAIN, VIR_FROM_QEMU),
        );
        return;
      }
      send(header, STATUS_OK, Buffer.concat([xdrString(name), DOMAIN_UUID, int32(1)]));
      return;
    }
    case PROC_DOMAIN_OPEN_CHANNEL: {
      const r = reader(args);
      const domain = r.string();
      r.opaque(16);
      r.int(); // id
      const channel = r.int() === 1 ? r.string() : null;
      const flags = r.int();
      channelLog(`open ${domain} ${channel} flags=${flags}`);
      if (domain === 'off') {
        send(
          header,
          STATUS_ERROR,
          errorPayload(
            'Requested operation is not valid: domain is not running',
            VIR_ERR_OPERATION_INVALID,
            VIR_FROM_QEMU,
          ),
        );
        return;
      }
      if (channel !== 'org.kaas.status.0') {
        send(
          header,
          STATUS_ERROR,
          errorPayload(`internal error: cannot find channel ${channel}`, VIR_ERR_INTERNAL_ERROR, VIR_FROM_QEMU),
        );
        return;
      }
      send(header, STATUS_OK, Buffer.alloc(0));
      openChannel(header, domain);
      return;
    }
    case PROC_CONNECT_GET_HOSTNAME:
      log('dying on request');
      process.exit(0);
      return;
    default:
      send(header, STATUS_ERROR, errorPayload(`fake daemon does not implement procedure ${header.proc}`));
  }
}

let pending = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 4) {
    const len = pending.readUInt32BE(0);
    if (pending.length < len) break;
    const msg = pending.subarray(4, len);
    pending = pending.subarray(len);
    const header = {
      prog: msg.readUInt32BE(0),
      vers: msg.readUInt32BE(4),
      proc: msg.readInt32BE(8),
      type: msg.readInt32BE(12),
      serial: msg.readUInt32BE(16),
    };
    const status = msg.readInt32BE(20);
    const payload = msg.subarray(24);
    if (header.type === TYPE_CALL) handle(header, payload);
    else if (header.type === TYPE_STREAM) handleStream(header, status, payload);
  }
});
process.stdin.on('end', () => process.exit(0));
