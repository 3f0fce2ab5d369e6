/**
 * Tiny, strict ISO 9660 reader for tests: it parses what iso9660.ts writes
 * (root directory only) and throws on layout rules a lenient reader would forgive.
 */

const BLOCK = 2048;

export interface VolumeDescriptorInfo {
  type: number;
  /** Raw 32-byte volume identifier field. */
  volumeIdField: Buffer;
  rootExtent: number;
  rootSize: number;
  raw: Buffer;
}

export interface DirectoryEntry {
  id: Buffer;
  extent: number;
  size: number;
  flags: number;
  /** Byte offset of the record inside the directory extent. */
  offset: number;
}

/** The 2048-byte block `n` of the image. */
export function block(image: Buffer, n: number): Buffer {
  return image.subarray(n * BLOCK, (n + 1) * BLOCK);
}

/** Reads a both-endian 32-bit field and checks that both halves agree. */
export function readBoth32(buf: Buffer, offset: number): number {
  const le = buf.readUInt32LE(offset);
  const be = buf.readUInt32BE(offset + 4);
  if (le !== be) throw new Error(`both-endian mismatch at ${offset}: LE ${le} vs BE ${be}`);
  return le;
}

/** Reads a both-endian 16-bit field and checks that both halves agree. */
export function readBoth16(buf: Buffer, offset: number): number {
  const le = buf.readUInt16LE(offset);
  const be = buf.readUInt16BE(offset + 2);
  if (le !== be) throw new Error(`both-endian mismatch at ${offset}: LE ${le} vs BE ${be}`);
  return le;
}

export function readVolumeDescriptor(image: Buffer, blockNumber: number): VolumeDescriptorInfo {
  const raw = block(image, blockNumber);
  if (raw.toString('ascii', 1, 6) !== 'CD001') throw new Error(`no volume descriptor at block ${blockNumber}`);
  return {
    type: raw[0],
    volumeIdField: raw.subarray(40, 72),
    rootExtent: readBoth32(raw, 156 + 2),
    rootSize: readBoth32(raw, 156 + 10),
    raw,
  };
}

/** Lists every record of a directory extent, enforcing the no-straddle rule. */
export function readDirectory(image: Buffer, extent: number, size: number): DirectoryEntry[] {
  if (size % BLOCK !== 0) throw new Error(`directory size ${size} is not a multiple of ${BLOCK}`);
  const dir = image.subarray(extent * BLOCK, extent * BLOCK + size);
  const entries: DirectoryEntry[] = [];
  let pos = 0;
  while (pos < dir.length) {
    const len = dir[pos];
    if (len === 0) {
      pos = (Math.floor(pos / BLOCK) + 1) * BLOCK; // rest of this block is padding
      continue;
    }
    if (len % 2 !== 0) throw new Error(`odd directory record length ${len} at ${pos}`);
    if (Math.floor(pos / BLOCK) !== Math.floor((pos + len - 1) / BLOCK)) {
      throw new Error(`directory record at ${pos} straddles a block boundary`);
    }
    const rec = dir.subarray(pos, pos + len);
    entries.push({
      id: rec.subarray(33, 33 + rec[32]),
      extent: readBoth32(rec, 2),
      size: readBoth32(rec, 10),
      flags: rec[25],
      offset: pos,
    });
    pos += len;
  }
  return entries;
}

/** Decodes a Joliet (UCS-2 big-endian) identifier. */
export function decodeUcs2BE(id: Buffer): string {
  let out = '';
  for (let i = 0; i + 1 < id.length; i += 2) out += String.fromCharCode(id.readUInt16BE(i));
  return out;
}

/** Files of the root directory as name -> contents, through the primary (16) or Joliet (17) descriptor. */
export function readRootFiles(image: Buffer, tree: 'primary' | 'joliet'): Map<string, Buffer> {
  const vd = readVolumeDescriptor(image, tree === 'primary' ? 16 : 17);
  const files = new Map<string, Buffer>();
  for (const entry of readDirectory(image, vd.rootExtent, vd.rootSize).slice(2)) {
    const name = tree === 'primary' ? entry.id.toString('ascii') : decodeUcs2BE(entry.id);
    files.set(name, image.subarray(entry.extent * BLOCK, entry.extent * BLOCK + entry.size));
  }
  return files;
}
