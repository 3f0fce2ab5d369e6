import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { LibvirtConstantName } from './libvirt-constants.js';
import type {
  ConnectionCloseEvent,
  DomainInfo,
  DomainLifecycleEvent,
  DomainRef,
  NativeChannelEvent,
  NetworkRef,
  NodeInfo,
  StoragePoolInfo,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
} from './libvirt-types.js';

/**
 * The native `Connection` class of `native/libvirt` (kaas_libvirt.node).
 * Every method returns a promise settled from a libuv worker thread; libvirt
 * failures reject with an Error carrying `code`, `domain`, `libvirtMessage`
 * and `isLibvirtError: true`. Objects are addressed by name.
 * Application code should use LibvirtConnection instead.
 */
export interface NativeConnection {
  open(uri: string): Promise<void>;
  close(): Promise<void>;
  isOpen(): boolean;
  isAlive(): Promise<boolean>;
  getHostname(): Promise<string>;
  getLibVersion(): Promise<number>;
  getNodeInfo(): Promise<NodeInfo>;
  getFreeMemory(): Promise<number>;
  /** Resolves false when the driver or the server has no keepalive support. */
  setKeepAlive(intervalSeconds: number, count: number): Promise<boolean>;
  registerCloseCallback(cb: (event: ConnectionCloseEvent) => void): Promise<void>;
  unregisterCloseCallback(): Promise<void>;
  domainEventRegister(cb: (event: DomainLifecycleEvent) => void): Promise<number>;
  domainEventDeregister(callbackId: number): Promise<void>;

  domainDefineXML(xml: string, flags?: number): Promise<DomainRef>;
  domainLookupByName(name: string): Promise<DomainRef>;
  domainLookupByUUID(uuid: string): Promise<DomainRef>;
  listAllDomains(flags?: number): Promise<DomainRef[]>;
  domainCreate(name: string, flags?: number): Promise<void>;
  domainShutdown(name: string, flags?: number): Promise<void>;
  domainDestroy(name: string, flags?: number): Promise<void>;
  domainUndefine(name: string, flags?: number): Promise<void>;
  domainGetInfo(name: string): Promise<DomainInfo>;
  domainGetXMLDesc(name: string, flags?: number): Promise<string>;
  domainIsActive(name: string): Promise<boolean>;
  domainSetMetadata(name: string, namespaceUri: string, key: string, xml: string | null): Promise<void>;
  domainGetMetadata(name: string, namespaceUri: string, flags?: number): Promise<string | null>;
  /**
   * virDomainOpenChannel on a non-blocking stream read from libvirt's event loop thread.
   * Resolves with the channel's id once events flow to `cb`.
   */
  domainOpenChannel(
    name: string,
    channelName: string,
    flags: number,
    cb: (event: NativeChannelEvent) => void,
  ): Promise<number>;
  /** Aborts the channel's stream; resolves also when it already ended. */
  channelClose(channelId: number): Promise<void>;

  storagePoolDefineXML(xml: string, flags?: number): Promise<StoragePoolRef>;
  storagePoolBuild(name: string, flags?: number): Promise<void>;
  storagePoolCreate(name: string, flags?: number): Promise<void>;
  storagePoolDestroy(name: string): Promise<void>;
  storagePoolUndefine(name: string): Promise<void>;
  storagePoolDelete(name: string, flags?: number): Promise<void>;
  storagePoolLookupByName(name: string): Promise<StoragePoolRef>;
  listAllStoragePools(flags?: number): Promise<StoragePoolRef[]>;
  storagePoolGetInfo(name: string): Promise<StoragePoolInfo>;
  storagePoolRefresh(name: string, flags?: number): Promise<void>;
  storagePoolGetXMLDesc(name: string, flags?: number): Promise<string>;
  storagePoolSetAutostart(name: string, autostart: boolean): Promise<void>;
  storagePoolIsActive(name: string): Promise<boolean>;

  storageVolCreateXML(poolName: string, xml: string, flags?: number): Promise<StorageVolRef>;
  storageVolLookupByName(poolName: string, volName: string): Promise<StorageVolRef>;
  storagePoolListAllVolumes(poolName: string): Promise<StorageVolRef[]>;
  storageVolGetInfo(poolName: string, volName: string): Promise<StorageVolInfo>;
  storageVolGetPath(poolName: string, volName: string): Promise<string>;
  storageVolGetXMLDesc(poolName: string, volName: string, flags?: number): Promise<string>;
  storageVolDelete(poolName: string, volName: string, flags?: number): Promise<void>;
  /** Resolves with the number of bytes sent. */
  storageVolUpload(poolName: string, volName: string, data: Buffer, offset?: number, flags?: number): Promise<number>;
  /**
   * Reads at most `length` bytes from `offset` (virStorageVolDownload); resolves with exactly the
   * bytes received, fewer if the stream ends first. A `length` of 0 reads nothing.
   */
  storageVolDownload(
    poolName: string,
    volName: string,
    offset: number,
    length: number,
    flags?: number,
  ): Promise<Buffer>;

  listAllNetworks(flags?: number): Promise<NetworkRef[]>;
  networkGetXMLDesc(name: string, flags?: number): Promise<string>;
}

export interface NativeBinding {
  Connection: new () => NativeConnection;
  /** Values compiled into the addon from libvirt's headers. */
  constants: Readonly<Record<LibvirtConstantName, number>>;
  /** virGetVersion of the loaded libvirt library (major * 1e6 + minor * 1e3 + release). */
  getVersion(): number;
  /** Channel streams not yet freed in this process, open or ended (tests check it returns to 0). */
  liveChannels(): number;
  /**
   * Returns the C library's free heap pages to the system (glibc's malloc_trim); false when
   * there was nothing to return or the C library is not glibc.
   */
  trimMemory(): boolean;
}

const ADDON_RELATIVE_PATH = join('native', 'libvirt', 'build', 'Release', 'kaas_libvirt.node');

/**
 * The folder holding `native/libvirt`, searched upwards from `startDir`: this
 * file runs from `src/hypervisor/libvirt/` (ts-jest) and from
 * `dist/src/hypervisor/libvirt/` (compiled), so no fixed depth works for both.
 */
export function findRepoRoot(startDir: string): string {
  let dir = startDir;
  for (;;) {
    if (existsSync(join(dir, 'native', 'libvirt', 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`native/libvirt not found in ${startDir} or any parent folder`);
    }
    dir = parent;
  }
}

/** Absolute path of the compiled addon. */
export function libvirtAddonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(findRepoRoot(here), ADDON_RELATIVE_PATH);
}

let cached: NativeBinding | undefined;

/**
 * Loads the addon on first use (so modules that only need types or constants
 * work where it is not built). Loading initialises libvirt and starts its
 * event loop thread, which must happen before any connection is opened.
 */
export function loadLibvirtBinding(): NativeBinding {
  if (cached) return cached;
  const path = libvirtAddonPath();
  if (!existsSync(path)) {
    throw new Error(`libvirt addon not built: ${path} is missing (run npm install or node-gyp rebuild)`);
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeBinding;
  return cached;
}
