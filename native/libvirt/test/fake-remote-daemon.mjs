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
// Every other unknown call gets a VIR_ERR_NO_SUPPORT error reply.

import { writeFileSync } from 'node:fs';
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
const PROC_STORAGE_VOL_UPLOAD = 208;
const TYPE_CALL = 0;
const TYPE_REPLY = 1;
const TYPE_STREAM = 3;
const STATUS_OK = 0;
const STATUS_ERROR = 1;
const STATUS_CONTINUE = 2;
const VIR_ERR_NO_SUPPORT = 3;
const VIR_ERR_OPERATION_DENIED = 29;
const VIR_ERR_NO_STORAGE_VOL = 50;
const VIR_FROM_REMOTE = 13;
const VIR_FROM_STORAGE = 18;
const VIR_ERR_ERROR = 2;

const log = process.env.FAKE_LIBVIRTD_LOG === '1' ? (m) => process.stderr.write(`fake-libvirtd: ${m}\n`) : () => {};

function int32(v) {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
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
// serial of the upload in progress -> its state
const uploads = new Map();

function handleStream(header, status, payload) {
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
