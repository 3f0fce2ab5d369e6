/**
 * Low-level ECMA-119 (ISO 9660) encoders: numeric field formats, dates,
 * padded text fields, directory records and path-table records.
 *
 * Section numbers refer to ECMA-119 (4th edition, 2019), which matches ISO 9660:1988.
 */

/** Logical block (sector) size; the only size every reader supports. */
export const BLOCK_SIZE = 2048;

/** Fixed part of a directory record before the file identifier (9.1). */
const DIR_RECORD_FIXED_LENGTH = 33;

/** Directory record flag bit for directories (9.1.6). */
const FLAG_DIRECTORY = 0x02;

/** Rounds a byte count up to whole logical blocks. */
export function blocksFor(bytes: number): number {
  return Math.ceil(bytes / BLOCK_SIZE);
}

/** 7.2.3: 16-bit value recorded little-endian then big-endian (4 bytes). */
export function writeBothEndian16(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset);
  buf.writeUInt16BE(value, offset + 2);
}

/** 7.3.3: 32-bit value recorded little-endian then big-endian (8 bytes). */
export function writeBothEndian32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset);
  buf.writeUInt32BE(value, offset + 4);
}

function assertValidDate(date: Date): void {
  const year = date.getUTCFullYear();
  // 9.1.5 stores the year as an offset from 1900 in one byte.
  if (Number.isNaN(date.getTime()) || year < 1900 || year > 2155) {
    throw new Error(`ISO 9660 date must be a valid date between 1900 and 2155, got ${String(date)}`);
  }
}

/**
 * 9.1.5: seven-byte binary recording date of a directory record.
 * Always written in UTC (offset byte 0) so images do not depend on the host time zone.
 */
export function encodeRecordDate(date: Date): Buffer {
  assertValidDate(date);
  return Buffer.from([
    date.getUTCFullYear() - 1900,
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    0,
  ]);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** 8.4.26.1: seventeen-byte digit date of a volume descriptor, in UTC. */
export function encodeVolumeDate(date: Date): Buffer {
  assertValidDate(date);
  const digits =
    String(date.getUTCFullYear()).padStart(4, '0') +
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    pad2(Math.floor(date.getUTCMilliseconds() / 10));
  return Buffer.concat([Buffer.from(digits, 'ascii'), Buffer.from([0])]);
}

/** 8.4.26.1: "date not specified" is sixteen '0' digits and a zero offset. */
export function unspecifiedVolumeDate(): Buffer {
  return Buffer.concat([Buffer.from('0'.repeat(16), 'ascii'), Buffer.from([0])]);
}

/** How a descriptor's text fields are encoded: plain ISO characters or Joliet UCS-2. */
export type TextEncoding = 'ascii' | 'ucs2';

/** UCS-2 big-endian, as Joliet requires (Node only has a little-endian codec). */
export function encodeUcs2BE(text: string): Buffer {
  const out = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) out.writeUInt16BE(text.charCodeAt(i), i * 2);
  return out;
}

/**
 * A fixed-width text field padded with spaces (8.4.x), or UCS-2 spaces for Joliet.
 * Text that does not fit is truncated on a character boundary.
 */
export function textField(text: string, width: number, encoding: TextEncoding): Buffer {
  const out = Buffer.alloc(width);
  if (encoding === 'ascii') {
    out.fill(0x20);
    out.write(text.slice(0, width), 0, 'ascii');
    return out;
  }
  const chars = Math.floor(width / 2);
  // Odd-width Joliet fields (the 37-byte file ids) keep a trailing zero byte.
  encodeUcs2BE(text.slice(0, chars).padEnd(chars, ' ')).copy(out, 0);
  return out;
}

/** What a directory record points at. */
export interface RecordTarget {
  /** File identifier bytes: 0x00 for ".", 0x01 for "..", otherwise the encoded name. */
  id: Buffer;
  extent: number;
  size: number;
  directory: boolean;
}

/** 9.1.12: a padding byte keeps every record at an even length. */
export function directoryRecordLength(idLength: number): number {
  const base = DIR_RECORD_FIXED_LENGTH + idLength;
  return base % 2 === 0 ? base : base + 1;
}

/** 9.1: one directory record (no extended attributes, single volume). */
export function encodeDirectoryRecord(target: RecordTarget, date: Buffer): Buffer {
  const length = directoryRecordLength(target.id.length);
  if (length > 255) throw new Error(`directory record too long (${length} bytes)`);
  const rec = Buffer.alloc(length);
  rec.writeUInt8(length, 0);
  rec.writeUInt8(0, 1); // extended attribute record length
  writeBothEndian32(rec, 2, target.extent);
  writeBothEndian32(rec, 10, target.size);
  date.copy(rec, 18);
  rec.writeUInt8(target.directory ? FLAG_DIRECTORY : 0, 25);
  rec.writeUInt8(0, 26); // file unit size: not interleaved
  rec.writeUInt8(0, 27); // interleave gap size
  writeBothEndian16(rec, 28, 1); // volume sequence number
  rec.writeUInt8(target.id.length, 32);
  target.id.copy(rec, 33);
  return rec;
}

/**
 * 6.8.1.1: records never straddle a block boundary; a record that would is moved
 * to the next block and the rest of the current block stays zero.
 * Returns each record's byte offset and the directory's total size in whole blocks.
 */
export function layoutDirectory(recordLengths: readonly number[]): { offsets: number[]; size: number } {
  const offsets: number[] = [];
  let pos = 0;
  for (const len of recordLengths) {
    const room = BLOCK_SIZE - (pos % BLOCK_SIZE);
    if (len > room) pos += room;
    offsets.push(pos);
    pos += len;
  }
  return { offsets, size: blocksFor(pos) * BLOCK_SIZE };
}

/** Serialises a directory whose records were placed by `layoutDirectory`. */
export function encodeDirectory(records: readonly Buffer[]): Buffer {
  const { offsets, size } = layoutDirectory(records.map((r) => r.length));
  const out = Buffer.alloc(size);
  records.forEach((rec, i) => rec.copy(out, offsets[i]));
  return out;
}

/** Byte size of a path table holding only the root directory (9.4). */
export const ROOT_PATH_TABLE_SIZE = 10;

/**
 * 9.4: path table with the root as its single entry (identifier 0x00, parent 1).
 * Type L stores numbers little-endian, type M big-endian.
 */
export function encodeRootPathTable(rootExtent: number, type: 'L' | 'M'): Buffer {
  const out = Buffer.alloc(ROOT_PATH_TABLE_SIZE);
  out.writeUInt8(1, 0); // length of directory identifier
  out.writeUInt8(0, 1); // extended attribute record length
  if (type === 'L') {
    out.writeUInt32LE(rootExtent, 2);
    out.writeUInt16LE(1, 6);
  } else {
    out.writeUInt32BE(rootExtent, 2);
    out.writeUInt16BE(1, 6);
  }
  // bytes 8 (identifier 0x00) and 9 (padding to even length) stay zero
  return out;
}
