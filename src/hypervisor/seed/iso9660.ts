/**
 * Minimal, dependency-free ISO 9660 image writer for small single-directory
 * images such as NoCloud seeds.
 *
 * The image carries two views of the same root directory and file data:
 *  - the primary tree (ECMA-119) with restricted names like "USER_DATA.;1";
 *  - a Joliet tree (supplementary descriptor, UCS-2 names) with the exact names.
 * Linux's isofs uses the Joliet tree whenever it is present and there is no
 * Rock Ridge, so "user-data" reads back as "user-data"; Rock Ridge is not written.
 *
 * Block map (2048-byte blocks):
 *   0-15   system area (zero)
 *   16     primary volume descriptor
 *   17     Joliet supplementary volume descriptor
 *   18     volume descriptor set terminator
 *   19-22  path tables: primary L, primary M, Joliet L, Joliet M
 *   23..   primary root directory, then Joliet root directory
 *   ..     file data, each file starting on a block boundary
 */
import {
  BLOCK_SIZE,
  ROOT_PATH_TABLE_SIZE,
  blocksFor,
  directoryRecordLength,
  encodeDirectory,
  layoutDirectory,
  encodeDirectoryRecord,
  encodeRecordDate,
  encodeRootPathTable,
  encodeVolumeDate,
  textField,
  unspecifiedVolumeDate,
  writeBothEndian16,
  writeBothEndian32,
  type RecordTarget,
  type TextEncoding,
} from './iso9660-records.js';
import {
  assignIsoNames,
  compareIsoNames,
  encodeIsoName,
  encodeJolietName,
  jolietVolumeId,
  validateFileNames,
  validateVolumeId,
  type IsoName,
} from './iso9660-names.js';

export { BLOCK_SIZE as ISO9660_BLOCK_SIZE } from './iso9660-records.js';

/** One file in the image's root directory. Strings are stored as UTF-8. */
export interface Iso9660File {
  name: string;
  data: Buffer | string;
}

export interface Iso9660Options {
  /** Volume label, written byte-for-byte (e.g. "cidata", which blkid then reports). */
  volumeId: string;
  files: readonly Iso9660File[];
  /** Timestamp for descriptors and records; pass one for reproducible images. Defaults to now. */
  date?: Date;
}

/** Sanity cap per file: seeds are kilobytes; the format itself allows up to 4 GiB - 1 per extent. */
/** 300 KiB of trailing zeros, the amount genisoimage pads with. */
export const TRAILING_PAD_BLOCKS = 150;

export const MAX_ISO_FILE_BYTES = 64 * 1024 * 1024;

const PVD_BLOCK = 16;
const SVD_BLOCK = 17;
const TERMINATOR_BLOCK = 18;
const PATH_TABLE_BLOCKS = { primaryL: 19, primaryM: 20, jolietL: 21, jolietM: 22 } as const;
const FIRST_DIRECTORY_BLOCK = 23;

/** Joliet UCS-2 level 3 escape sequence (the other levels are %/@ and %/C). */
const JOLIET_ESCAPE = Buffer.from('%/E', 'ascii');

/** Identifier of the root's "." and ".." records (9.1.11). */
const SELF_ID = Buffer.from([0]);
const PARENT_ID = Buffer.from([1]);

interface PreparedFile {
  isoName: IsoName;
  /** Encoded identifiers for the primary and Joliet directory records. */
  isoId: Buffer;
  jolietId: Buffer;
  data: Buffer;
  extent: number;
}

/** Where a tree's root directory lives; `size` is in bytes, a whole number of blocks. */
interface TreeLayout {
  extent: number;
  size: number;
}

/** Builds a complete ISO 9660 + Joliet image with all files in the root directory. */
export function buildIso9660(options: Iso9660Options): Buffer {
  validateVolumeId(options.volumeId);
  validateFileNames(options.files.map((f) => f.name));
  const date = options.date ?? new Date();
  const recordDate = encodeRecordDate(date); // also rejects dates the format cannot hold

  const files = prepareFiles(options.files);
  const primary = treeLayout(
    FIRST_DIRECTORY_BLOCK,
    files.map((f) => f.isoId),
  );
  const joliet = treeLayout(
    blockAfter(primary),
    files.map((f) => f.jolietId),
  );
  // Trailing zero blocks, as genisoimage's default padding: probes such as busybox's findfs read
  // well past the last file (up to 64 KiB and more) and give up on a shorter device.
  const totalBlocks = placeFileData(files, blockAfter(joliet)) + TRAILING_PAD_BLOCKS;

  const image = Buffer.alloc(totalBlocks * BLOCK_SIZE);
  const put = (blockNumber: number, data: Buffer): void => void data.copy(image, blockNumber * BLOCK_SIZE);

  const common = { totalBlocks, date, recordDate };
  put(PVD_BLOCK, volumeDescriptor({ ...common, kind: 'primary', volumeId: options.volumeId, root: primary }));
  const jolietId = jolietVolumeId(options.volumeId);
  put(SVD_BLOCK, volumeDescriptor({ ...common, kind: 'joliet', volumeId: jolietId, root: joliet }));
  put(TERMINATOR_BLOCK, descriptorHeader(255)); // 8.3: the set terminator is just the header
  put(PATH_TABLE_BLOCKS.primaryL, encodeRootPathTable(primary.extent, 'L'));
  put(PATH_TABLE_BLOCKS.primaryM, encodeRootPathTable(primary.extent, 'M'));
  put(PATH_TABLE_BLOCKS.jolietL, encodeRootPathTable(joliet.extent, 'L'));
  put(PATH_TABLE_BLOCKS.jolietM, encodeRootPathTable(joliet.extent, 'M'));

  // Each tree lists the same extents, sorted by its own identifiers (9.3).
  const primaryOrder = [...files].sort((a, b) => compareIsoNames(a.isoName, b.isoName));
  const jolietOrder = [...files].sort((a, b) => Buffer.compare(a.jolietId, b.jolietId));
  put(
    primary.extent,
    rootDirectory(
      primary,
      primaryOrder.map((f) => fileTarget(f, f.isoId)),
      recordDate,
    ),
  );
  put(
    joliet.extent,
    rootDirectory(
      joliet,
      jolietOrder.map((f) => fileTarget(f, f.jolietId)),
      recordDate,
    ),
  );
  for (const f of files) put(f.extent, f.data);
  return image;
}

function prepareFiles(input: readonly Iso9660File[]): PreparedFile[] {
  const isoNames = assignIsoNames(input.map((f) => f.name));
  return input.map((f, i) => {
    const data = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data;
    if (data.length > MAX_ISO_FILE_BYTES) {
      throw new Error(`ISO file ${f.name} is ${data.length} bytes; the limit is ${MAX_ISO_FILE_BYTES}`);
    }
    const isoName = isoNames[i];
    return { isoName, isoId: encodeIsoName(isoName), jolietId: encodeJolietName(f.name), data, extent: 0 };
  });
}

/** Root directory position and size; the size depends only on identifier lengths, not on extents. */
function treeLayout(extent: number, fileIds: readonly Buffer[]): TreeLayout {
  const ids = [SELF_ID, PARENT_ID, ...fileIds];
  return { extent, size: layoutDirectory(ids.map((id) => directoryRecordLength(id.length))).size };
}

const blockAfter = (tree: TreeLayout): number => tree.extent + tree.size / BLOCK_SIZE;

/**
 * Assigns consecutive block-aligned extents and returns the volume size in blocks.
 * An empty file takes the next block number without using it, as genisoimage
 * does; readers never dereference a zero-length extent.
 */
function placeFileData(files: PreparedFile[], firstBlock: number): number {
  let next = firstBlock;
  for (const f of files) {
    f.extent = next;
    next += blocksFor(f.data.length);
  }
  return next;
}

function fileTarget(f: PreparedFile, id: Buffer): RecordTarget {
  return { id, extent: f.extent, size: f.data.length, directory: false };
}

/** "." and ".." both describe the root itself (6.8.2.2), followed by the sorted files. */
function rootDirectory(tree: TreeLayout, files: readonly RecordTarget[], recordDate: Buffer): Buffer {
  const self: RecordTarget = { id: SELF_ID, extent: tree.extent, size: tree.size, directory: true };
  const records = [self, { ...self, id: PARENT_ID }, ...files].map((t) => encodeDirectoryRecord(t, recordDate));
  return encodeDirectory(records);
}

interface DescriptorParams {
  kind: 'primary' | 'joliet';
  volumeId: string;
  root: TreeLayout;
  totalBlocks: number;
  date: Date;
  recordDate: Buffer;
}

/** 8.4 (primary) and 8.5 (supplementary): the two descriptors share one layout. */
function volumeDescriptor(p: DescriptorParams): Buffer {
  const isJoliet = p.kind === 'joliet';
  const encoding: TextEncoding = isJoliet ? 'ucs2' : 'ascii';
  const paths = isJoliet
    ? { l: PATH_TABLE_BLOCKS.jolietL, m: PATH_TABLE_BLOCKS.jolietM }
    : { l: PATH_TABLE_BLOCKS.primaryL, m: PATH_TABLE_BLOCKS.primaryM };
  const vd = descriptorHeader(isJoliet ? 2 : 1);
  textField('', 32, encoding).copy(vd, 8); // system identifier
  textField(p.volumeId, 32, encoding).copy(vd, 40);
  writeBothEndian32(vd, 80, p.totalBlocks);
  if (isJoliet) JOLIET_ESCAPE.copy(vd, 88);
  writeBothEndian16(vd, 120, 1); // volume set size
  writeBothEndian16(vd, 124, 1); // volume sequence number
  writeBothEndian16(vd, 128, BLOCK_SIZE);
  writeBothEndian32(vd, 132, ROOT_PATH_TABLE_SIZE);
  vd.writeUInt32LE(paths.l, 140);
  vd.writeUInt32BE(paths.m, 148); // optional tables at 144 and 152 stay 0 (absent)
  const rootTarget: RecordTarget = { id: SELF_ID, extent: p.root.extent, size: p.root.size, directory: true };
  encodeDirectoryRecord(rootTarget, p.recordDate).copy(vd, 156);
  writeTextFields(vd, encoding);
  encodeVolumeDate(p.date).copy(vd, 813); // creation
  encodeVolumeDate(p.date).copy(vd, 830); // modification
  unspecifiedVolumeDate().copy(vd, 847); // expiration
  unspecifiedVolumeDate().copy(vd, 864); // effective
  vd.writeUInt8(1, 881); // file structure version
  return vd;
}

/** Volume set, publisher, preparer, application, copyright, abstract and bibliographic ids: all blank. */
function writeTextFields(vd: Buffer, encoding: TextEncoding): void {
  const fields: [offset: number, width: number][] = [
    [190, 128],
    [318, 128],
    [446, 128],
    [574, 128],
    [702, 37],
    [739, 37],
    [776, 37],
  ];
  for (const [offset, width] of fields) textField('', width, encoding).copy(vd, offset);
}

/** 8.1: type byte, standard identifier "CD001", version 1. */
function descriptorHeader(type: number): Buffer {
  const vd = Buffer.alloc(BLOCK_SIZE);
  vd.writeUInt8(type, 0);
  vd.write('CD001', 1, 'ascii');
  vd.writeUInt8(1, 6);
  return vd;
}
