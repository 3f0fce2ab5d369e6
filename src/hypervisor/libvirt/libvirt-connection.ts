// Longer than most files on purpose: it is the one typed face of the native binding, a thin
// method per libvirt call; splitting it by object kind would only scatter the connection state.
import { loadLibvirtBinding, type NativeConnection } from './libvirt-binding.js';
import { LIBVIRT } from './libvirt-constants.js';
import { LibvirtError, toLibvirtError } from './libvirt-error.js';
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

export interface LibvirtKeepAlive {
  /** Seconds between keepalive probes. */
  intervalSeconds: number;
  /** Unanswered probes after which the connection is closed. */
  count: number;
}

export interface LibvirtOpenOptions {
  /**
   * Keepalive for remote URIs (virConnectSetKeepAlive); drivers without
   * keepalive (test://, in-process drivers) ignore it. Default 5 s x 3;
   * `false` leaves libvirt's default.
   */
  keepAlive?: LibvirtKeepAlive | false;
}

export type DomainEventListener = (event: DomainLifecycleEvent) => void;
export type CloseListener = (event: ConnectionCloseEvent) => void;

/**
 * Why a channel stopped: `eof` the far end closed it (the domain stopped), `error` the stream
 * failed, `closed` its close function was called, `connection-closed` the connection was closed
 * or lost.
 */
export type ChannelEndReason = 'eof' | 'error' | 'closed' | 'connection-closed';

export interface ChannelEnd {
  reason: ChannelEndReason;
  /** Set for `error`. */
  error?: LibvirtError;
}

export interface OpenChannelOptions {
  /** VIR_DOMAIN_CHANNEL_FORCE: take the channel over from another session that holds it. */
  force?: boolean;
  /** Called where data was dropped because this process fell behind what the guest sent. */
  onDataLost?: () => void;
}

/** Stops reading a channel; `onClose` then gets `closed` unless the channel had ended already. */
export type ChannelCloser = () => Promise<void>;

/** A volume was not read because it holds more bytes than the caller accepts. */
export class VolumeTooLargeError extends Error {
  override readonly name = 'VolumeTooLargeError';

  constructor(
    readonly poolName: string,
    readonly volName: string,
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(`volume ${volName} of pool ${poolName} holds ${sizeBytes} bytes, more than the ${maxBytes} allowed`);
  }
}

const DEFAULT_KEEPALIVE: LibvirtKeepAlive = { intervalSeconds: 5, count: 3 };

/**
 * One libvirt connection (one virConnectPtr), shared by every call made
 * through it; calls may run concurrently. Every method is async and runs the
 * libvirt call on a worker thread. Failures reject with LibvirtError.
 * Domains, networks and pools are addressed by name, volumes by pool and name.
 */
export class LibvirtConnection {
  readonly uri: string;
  private readonly native: NativeConnection;
  private readonly closeListeners = new Set<CloseListener>();
  private readonly domainListeners = new Set<DomainEventListener>();
  /** Each open channel's end function and native id; ended when the connection closes or is lost. */
  private readonly openChannels = new Map<(end: ChannelEnd) => void, number>();
  private domainCallbackId: number | null = null;
  private eventOps: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(uri: string, native: NativeConnection) {
    this.uri = uri;
    this.native = native;
  }

  /** virConnectOpen, then keepalive and the close callback. */
  static async open(uri: string, options: LibvirtOpenOptions = {}): Promise<LibvirtConnection> {
    const binding = loadLibvirtBinding();
    const native = new binding.Connection();
    await call('open', () => native.open(uri));
    const conn = new LibvirtConnection(uri, native);
    try {
      const keepAlive = options.keepAlive ?? DEFAULT_KEEPALIVE;
      if (keepAlive !== false) {
        await call('setKeepAlive', () => native.setKeepAlive(keepAlive.intervalSeconds, keepAlive.count));
      }
      await call('registerCloseCallback', () => native.registerCloseCallback((event) => conn.emitClose(event)));
    } catch (err) {
      await native.close().catch(() => undefined);
      throw err;
    }
    return conn;
  }

  /** False once close() was called. */
  get isOpen(): boolean {
    return !this.closed && this.native.isOpen();
  }

  /**
   * Drops every event registration and the connection. Calls already running
   * finish normally; calls made afterwards reject with VIR_ERR_INVALID_CONN.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.domainListeners.clear();
    this.closeListeners.clear();
    this.domainCallbackId = null;
    this.endChannels();
    await call('close', () => this.native.close());
  }

  /**
   * Called with the reason when libvirt reports the connection closed (daemon
   * gone, keepalive timeout, I/O error); not called for close(). Returns an
   * unsubscribe function.
   */
  onClose(listener: CloseListener): () => void {
    this.closeListeners.add(listener);
    return () => {
      this.closeListeners.delete(listener);
    };
  }

  /**
   * Subscribes to domain lifecycle events. Resolves once libvirt delivers
   * events to this connection, with a function that unsubscribes (the libvirt
   * registration is dropped with the last listener). Events are delivered on
   * the JS thread. A subscription alone does not keep Node running.
   */
  async onDomainEvent(listener: DomainEventListener): Promise<() => Promise<void>> {
    this.domainListeners.add(listener);
    try {
      await this.serializeEventOp(async () => {
        if (this.domainCallbackId === null) {
          this.domainCallbackId = await call('domainEventRegister', () =>
            this.native.domainEventRegister((event) => this.emitDomainEvent(event)),
          );
        }
      });
    } catch (err) {
      this.domainListeners.delete(listener);
      throw err;
    }
    let subscribed = true;
    return async () => {
      if (!subscribed) return;
      subscribed = false;
      this.domainListeners.delete(listener);
      await this.serializeEventOp(async () => {
        if (this.domainListeners.size > 0 || this.domainCallbackId === null || this.closed) return;
        const id = this.domainCallbackId;
        this.domainCallbackId = null;
        await call('domainEventDeregister', () => this.native.domainEventDeregister(id));
      });
    };
  }

  // --- host -------------------------------------------------------------

  isAlive(): Promise<boolean> {
    return call('isAlive', () => this.native.isAlive());
  }

  getHostname(): Promise<string> {
    return call('getHostname', () => this.native.getHostname());
  }

  /** libvirt version of the daemon side: major * 1e6 + minor * 1e3 + release. */
  getLibVersion(): Promise<number> {
    return call('getLibVersion', () => this.native.getLibVersion());
  }

  getNodeInfo(): Promise<NodeInfo> {
    return call('getNodeInfo', () => this.native.getNodeInfo());
  }

  /** Free host memory in bytes (virNodeGetFreeMemory). */
  getFreeMemory(): Promise<number> {
    return call('getFreeMemory', () => this.native.getFreeMemory());
  }

  /** Resolves false if the driver or server does not support keepalive. */
  setKeepAlive(intervalSeconds: number, count: number): Promise<boolean> {
    return call('setKeepAlive', () => this.native.setKeepAlive(intervalSeconds, count));
  }

  // --- domains ----------------------------------------------------------

  /** virDomainDefineXMLFlags; also redefines an existing domain. */
  defineDomain(xml: string, flags = 0): Promise<DomainRef> {
    return call('defineDomain', () => this.native.domainDefineXML(xml, flags));
  }

  lookupDomain(name: string): Promise<DomainRef> {
    return call('lookupDomain', () => this.native.domainLookupByName(name));
  }

  lookupDomainByUUID(uuid: string): Promise<DomainRef> {
    return call('lookupDomainByUUID', () => this.native.domainLookupByUUID(uuid));
  }

  /** virConnectListAllDomains; flags VIR_CONNECT_LIST_DOMAINS_*. */
  listDomains(flags = 0): Promise<DomainRef[]> {
    return call('listDomains', () => this.native.listAllDomains(flags));
  }

  /** virDomainCreateWithFlags. */
  startDomain(name: string, flags = 0): Promise<void> {
    return call('startDomain', () => this.native.domainCreate(name, flags));
  }

  /** virDomainShutdownFlags: asks the guest to power off. */
  shutdownDomain(name: string, flags = 0): Promise<void> {
    return call('shutdownDomain', () => this.native.domainShutdown(name, flags));
  }

  /** virDomainDestroyFlags: hard power-off. */
  destroyDomain(name: string, flags = 0): Promise<void> {
    return call('destroyDomain', () => this.native.domainDestroy(name, flags));
  }

  /** virDomainUndefineFlags; flags VIR_DOMAIN_UNDEFINE_*. */
  undefineDomain(name: string, flags = 0): Promise<void> {
    return call('undefineDomain', () => this.native.domainUndefine(name, flags));
  }

  getDomainInfo(name: string): Promise<DomainInfo> {
    return call('getDomainInfo', () => this.native.domainGetInfo(name));
  }

  /** virDomainGetXMLDesc; flags VIR_DOMAIN_XML_*. */
  getDomainXML(name: string, flags = 0): Promise<string> {
    return call('getDomainXML', () => this.native.domainGetXMLDesc(name, flags));
  }

  isDomainActive(name: string): Promise<boolean> {
    return call('isDomainActive', () => this.native.domainIsActive(name));
  }

  /**
   * Sets (or with `xml` null removes) the metadata element of namespace
   * `namespaceUri`, written as `<key:... xmlns:key="namespaceUri">`. Applied to
   * the persistent config and, while the domain runs, to the live one.
   */
  setDomainMetadata(name: string, namespaceUri: string, key: string, xml: string | null): Promise<void> {
    return call('setDomainMetadata', () => this.native.domainSetMetadata(name, namespaceUri, key, xml));
  }

  /**
   * The metadata element of `namespaceUri`, or null if there is none. Flags
   * VIR_DOMAIN_AFFECT_*; the default reads live state of a running domain.
   */
  getDomainMetadata(name: string, namespaceUri: string, flags = 0): Promise<string | null> {
    return call('getDomainMetadata', () => this.native.domainGetMetadata(name, namespaceUri, flags));
  }

  // --- channels ---------------------------------------------------------

  /**
   * Reads the domain's channel whose target name (virtio) or alias is `channelName`
   * (virDomainOpenChannel). The stream is non-blocking and read on libvirt's event loop
   * thread, so an idle guest costs no worker thread. `onData` gets the bytes in order, in
   * chunks that follow no line or message boundary; `onClose` is called once when the channel
   * ends (see ChannelEndReason), including when the connection is closed or lost. Both may be
   * called before the returned promise resolves. Resolves with the function that closes it.
   * The qemu driver opens only channels of type `unix`; the test driver none at all.
   */
  async openChannel(
    domainName: string,
    channelName: string,
    onData: (chunk: Buffer) => void,
    onClose: (end: ChannelEnd) => void,
    options: OpenChannelOptions = {},
  ): Promise<ChannelCloser> {
    let ended = false;
    const end = (e: ChannelEnd) => {
      if (ended) return;
      ended = true;
      this.openChannels.delete(end);
      deliver(onClose, e);
    };
    const onEvent = (event: NativeChannelEvent) => {
      if (ended) return;
      if (event.type === 'data') deliver(onData, event.data);
      else if (event.type === 'gap') {
        if (options.onDataLost) deliver(options.onDataLost, undefined);
      } else if (event.reason === 'connection') end({ reason: 'connection-closed' });
      else if (event.reason === 'eof') end({ reason: 'eof' });
      else {
        const error = new LibvirtError(
          event.code ?? LIBVIRT.VIR_ERR_INTERNAL_ERROR,
          event.domain ?? LIBVIRT.VIR_FROM_NONE,
          event.message ?? 'channel stream failed',
          'openChannel',
        );
        end({ reason: 'error', error });
      }
    };
    const flags = options.force ? LIBVIRT.VIR_DOMAIN_CHANNEL_FORCE : 0;
    const id = await call('openChannel', () => this.native.domainOpenChannel(domainName, channelName, flags, onEvent));
    if (!ended) {
      if (this.closed) end({ reason: 'connection-closed' });
      else this.openChannels.set(end, id);
    }
    return async () => {
      if (ended) return;
      end({ reason: 'closed' });
      await call('closeChannel', () => this.native.channelClose(id));
    };
  }

  // --- storage pools ----------------------------------------------------

  definePool(xml: string, flags = 0): Promise<StoragePoolRef> {
    return call('definePool', () => this.native.storagePoolDefineXML(xml, flags));
  }

  /** virStoragePoolBuild; flags VIR_STORAGE_POOL_BUILD_*. */
  buildPool(name: string, flags = 0): Promise<void> {
    return call('buildPool', () => this.native.storagePoolBuild(name, flags));
  }

  /** virStoragePoolCreate (start); flags VIR_STORAGE_POOL_CREATE_*. */
  startPool(name: string, flags = 0): Promise<void> {
    return call('startPool', () => this.native.storagePoolCreate(name, flags));
  }

  destroyPool(name: string): Promise<void> {
    return call('destroyPool', () => this.native.storagePoolDestroy(name));
  }

  undefinePool(name: string): Promise<void> {
    return call('undefinePool', () => this.native.storagePoolUndefine(name));
  }

  /** virStoragePoolDelete: removes the pool's storage (e.g. its directory). */
  deletePool(name: string, flags = 0): Promise<void> {
    return call('deletePool', () => this.native.storagePoolDelete(name, flags));
  }

  lookupPool(name: string): Promise<StoragePoolRef> {
    return call('lookupPool', () => this.native.storagePoolLookupByName(name));
  }

  listPools(flags = 0): Promise<StoragePoolRef[]> {
    return call('listPools', () => this.native.listAllStoragePools(flags));
  }

  getPoolInfo(name: string): Promise<StoragePoolInfo> {
    return call('getPoolInfo', () => this.native.storagePoolGetInfo(name));
  }

  refreshPool(name: string): Promise<void> {
    return call('refreshPool', () => this.native.storagePoolRefresh(name, 0));
  }

  getPoolXML(name: string, flags = 0): Promise<string> {
    return call('getPoolXML', () => this.native.storagePoolGetXMLDesc(name, flags));
  }

  setPoolAutostart(name: string, autostart: boolean): Promise<void> {
    return call('setPoolAutostart', () => this.native.storagePoolSetAutostart(name, autostart));
  }

  isPoolActive(name: string): Promise<boolean> {
    return call('isPoolActive', () => this.native.storagePoolIsActive(name));
  }

  // --- volumes ----------------------------------------------------------

  /** virStorageVolCreateXML; flags VIR_STORAGE_VOL_CREATE_*. */
  createVolume(poolName: string, xml: string, flags = 0): Promise<StorageVolRef> {
    return call('createVolume', () => this.native.storageVolCreateXML(poolName, xml, flags));
  }

  lookupVolume(poolName: string, volName: string): Promise<StorageVolRef> {
    return call('lookupVolume', () => this.native.storageVolLookupByName(poolName, volName));
  }

  listVolumes(poolName: string): Promise<StorageVolRef[]> {
    return call('listVolumes', () => this.native.storagePoolListAllVolumes(poolName));
  }

  getVolumeInfo(poolName: string, volName: string): Promise<StorageVolInfo> {
    return call('getVolumeInfo', () => this.native.storageVolGetInfo(poolName, volName));
  }

  getVolumePath(poolName: string, volName: string): Promise<string> {
    return call('getVolumePath', () => this.native.storageVolGetPath(poolName, volName));
  }

  getVolumeXML(poolName: string, volName: string, flags = 0): Promise<string> {
    return call('getVolumeXML', () => this.native.storageVolGetXMLDesc(poolName, volName, flags));
  }

  deleteVolume(poolName: string, volName: string, flags = 0): Promise<void> {
    return call('deleteVolume', () => this.native.storageVolDelete(poolName, volName, flags));
  }

  /**
   * Writes `data` into the volume at `offset` through a libvirt stream
   * (virStorageVolUpload). Resolves with the bytes sent. `data` must not be
   * modified until the promise settles. Not supported by the test driver.
   */
  uploadVolume(poolName: string, volName: string, data: Uint8Array, offset = 0): Promise<number> {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return call('uploadVolume', () => this.native.storageVolUpload(poolName, volName, buf, offset, 0));
  }

  /**
   * The whole content of a raw volume, read through a libvirt stream (virStorageVolDownload).
   * Its size is the capacity libvirt reports (a raw volume's length in bytes); a volume larger
   * than `maxBytes` is refused before anything is read, since the bytes are held in memory.
   * Not supported by the test driver.
   */
  async downloadVolume(poolName: string, volName: string, maxBytes: number): Promise<Buffer> {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(`maxBytes must be a non-negative integer, not ${maxBytes}`);
    }
    const { capacity } = await this.getVolumeInfo(poolName, volName);
    if (capacity > maxBytes) throw new VolumeTooLargeError(poolName, volName, capacity, maxBytes);
    return call('downloadVolume', () => this.native.storageVolDownload(poolName, volName, 0, capacity, 0));
  }

  // --- networks (read-only) ---------------------------------------------

  /**
   * The host's libvirt networks. The platform defines none (tenant networks are OVN's), so only
   * reading them is offered: enough to see what a host holds beside the platform's objects.
   */
  listNetworks(): Promise<NetworkRef[]> {
    return call('listNetworks', () => this.native.listAllNetworks(0));
  }

  getNetworkXML(name: string): Promise<string> {
    return call('getNetworkXML', () => this.native.networkGetXMLDesc(name, 0));
  }

  // --- internals --------------------------------------------------------

  private serializeEventOp(op: () => Promise<void>): Promise<void> {
    const next = this.eventOps.then(op, op);
    this.eventOps = next.catch(() => undefined);
    return next;
  }

  private emitDomainEvent(event: DomainLifecycleEvent): void {
    for (const listener of [...this.domainListeners]) deliver(listener, event);
  }

  private emitClose(event: ConnectionCloseEvent): void {
    // A lost connection carries no stream any more: end its channels and free their streams
    // now rather than when (or if) the connection object is closed.
    for (const [end, id] of [...this.openChannels]) {
      end({ reason: 'connection-closed' });
      void this.native.channelClose(id).catch(() => undefined);
    }
    for (const listener of [...this.closeListeners]) deliver(listener, event);
  }

  /** The native close tears the streams down; this tells their readers. */
  private endChannels(): void {
    for (const end of [...this.openChannels.keys()]) end({ reason: 'connection-closed' });
  }
}

/** Runs a native call and maps its rejection to LibvirtError. */
async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toLibvirtError(err, operation);
  }
}

/**
 * Calls one listener; an exception in it must not stop delivery to the
 * others, so it is rethrown on a later tick, where it surfaces as an uncaught
 * exception like an EventEmitter listener's would.
 */
function deliver<E>(listener: (event: E) => void, event: E): void {
  try {
    listener(event);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
