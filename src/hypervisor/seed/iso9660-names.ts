/**
 * Input validation and the two name spaces of the image: restricted ISO 9660
 * identifiers for the primary tree and exact UCS-2 names for the Joliet tree.
 */
import { encodeUcs2BE } from './iso9660-records.js';

/**
 * Accepted file names: what NoCloud needs, and exactly representable in Joliet.
 * 64 characters is the Joliet identifier limit; a trailing '.' is refused because
 * Linux (fs/isofs/joliet.c) strips trailing dots from Joliet names.
 */
const FILE_NAME = /^[a-z0-9._-]{1,64}$/;

/** Volume ids: the 32-byte PVD field; lowercase is kept as given (cf. `genisoimage -V cidata`). */
const VOLUME_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** Level 2 limit on name plus extension of a primary-tree file identifier (ECMA-119 7.5.1). */
const MAX_ISO_NAME_CHARS = 30;

/** Longest extension kept in the primary tree; the rest of the budget goes to the name. */
const MAX_ISO_EXT_CHARS = 8;

/** Throws unless `volumeId` fits the PVD volume identifier field. */
export function validateVolumeId(volumeId: string): void {
  if (!VOLUME_ID.test(volumeId)) {
    throw new Error(`invalid ISO volume id ${JSON.stringify(volumeId)}: expected 1-32 characters of [A-Za-z0-9_-]`);
  }
}

/** Throws unless every name is a valid, unique root-directory file name. */
export function validateFileNames(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (!FILE_NAME.test(name) || name === '.' || name === '..' || name.endsWith('.')) {
      throw new Error(
        `invalid ISO file name ${JSON.stringify(name)}: expected 1-64 characters of [a-z0-9._-], not ending in '.'`,
      );
    }
    if (seen.has(name)) throw new Error(`duplicate ISO file name ${JSON.stringify(name)}`);
    seen.add(name);
  }
}

/** A primary-tree identifier split the way ECMA-119 9.3 sorts it. */
export interface IsoName {
  base: string;
  ext: string;
}

/** Uppercase d-characters only (7.4.1); anything else becomes '_'. */
const toDChars = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

/** Splits on the last dot, as readers split "NAME.EXT;1". */
function splitIsoName(name: string): IsoName {
  const dot = name.lastIndexOf('.');
  const base = dot < 0 ? name : name.slice(0, dot);
  const ext = dot < 0 ? '' : name.slice(dot + 1);
  const safeExt = toDChars(ext).slice(0, MAX_ISO_EXT_CHARS);
  return { base: toDChars(base).slice(0, MAX_ISO_NAME_CHARS - safeExt.length), ext: safeExt };
}

const isoKey = (n: IsoName): string => `${n.base}.${n.ext}`;

/**
 * Maps each file name to a unique primary-tree name. The mapping is lossy
 * ("meta-data" and "meta_data" both become "META_DATA"), so collisions get a
 * numeric suffix; readers that matter use the Joliet names anyway.
 */
export function assignIsoNames(names: readonly string[]): IsoName[] {
  const used = new Set<string>();
  return names.map((name) => {
    let candidate = splitIsoName(name);
    for (let n = 1; used.has(isoKey(candidate)); n++) {
      const suffix = `_${n}`;
      const room = MAX_ISO_NAME_CHARS - candidate.ext.length - suffix.length;
      candidate = { base: splitIsoName(name).base.slice(0, room) + suffix, ext: candidate.ext };
    }
    used.add(isoKey(candidate));
    return candidate;
  });
}

/** 7.5.1: "NAME.EXT;1" — the separator dot is mandatory even without an extension. */
export function encodeIsoName(name: IsoName): Buffer {
  return Buffer.from(`${name.base}.${name.ext};1`, 'ascii');
}

/** 9.3 order: name, then extension (both space-padded, which equals plain string order here). */
export function compareIsoNames(a: IsoName, b: IsoName): number {
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  if (a.ext !== b.ext) return a.ext < b.ext ? -1 : 1;
  return 0;
}

/**
 * Joliet names are the exact file names in UCS-2 BE, without the ";1" version
 * suffix (genisoimage omits it too, and Linux would strip it).
 */
export function encodeJolietName(name: string): Buffer {
  return encodeUcs2BE(name);
}

/** Joliet volume id: the same 32-byte field holds only 16 UCS-2 characters. */
export function jolietVolumeId(volumeId: string): string {
  return volumeId.slice(0, 16);
}
