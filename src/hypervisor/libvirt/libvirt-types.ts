/**
 * Plain data shapes returned by the libvirt binding. Sizes are in the unit
 * named by the field; byte counts are JS numbers (exact up to 8 PiB).
 */

/** virNodeGetInfo. */
export interface NodeInfo {
  model: string;
  memoryKiB: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

export type DomainStateName =
  'nostate' | 'running' | 'blocked' | 'paused' | 'shutdown' | 'shutoff' | 'crashed' | 'pmsuspended' | 'unknown';

/** virDomainGetInfo. */
export interface DomainInfo {
  state: DomainStateName;
  /** The raw virDomainState value. */
  stateCode: number;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
  cpuTimeNs: number;
}

/** Identity of a domain as returned by define, lookup and list calls. */
export interface DomainRef {
  name: string;
  uuid: string;
  /** Hypervisor id while running, -1 otherwise. */
  id: number;
  active: boolean;
  persistent: boolean;
}

export type DomainEventName =
  | 'defined'
  | 'undefined'
  | 'started'
  | 'suspended'
  | 'resumed'
  | 'stopped'
  | 'shutdown'
  | 'pmsuspended'
  | 'crashed'
  | 'unknown';

/** A VIR_DOMAIN_EVENT_ID_LIFECYCLE event. */
export interface DomainLifecycleEvent {
  domainName: string;
  uuid: string;
  event: DomainEventName;
  /** The raw virDomainEventType value. */
  eventCode: number;
  /** Event-specific detail, e.g. VIR_DOMAIN_EVENT_STOPPED_DESTROYED. */
  detail: number;
}

export type CloseReasonName = 'error' | 'eof' | 'keepalive' | 'client' | 'unknown';

/** Delivered by virConnectRegisterCloseCallback when the connection drops. */
export interface ConnectionCloseEvent {
  reason: CloseReasonName;
  /** The raw virConnectCloseReason value. */
  reasonCode: number;
}

/**
 * What the native channel callback receives: data in arrival order, `gap` where data was
 * dropped because JS fell behind, then one `end` unless the channel was closed by the caller.
 * `end.reason` is `connection` when the connection was torn down under the channel.
 */
export type NativeChannelEvent =
  | { type: 'data'; data: Buffer }
  | { type: 'gap' }
  | { type: 'end'; reason: 'eof' | 'error' | 'connection'; code?: number; domain?: number; message?: string };

export interface StoragePoolRef {
  name: string;
  uuid: string;
  active: boolean;
  persistent: boolean;
}

export type StoragePoolStateName = 'inactive' | 'building' | 'running' | 'degraded' | 'inaccessible' | 'unknown';

/** virStoragePoolGetInfo; sizes in bytes. */
export interface StoragePoolInfo {
  state: StoragePoolStateName;
  stateCode: number;
  capacity: number;
  allocation: number;
  available: number;
}

export interface StorageVolRef {
  name: string;
  key: string;
  path: string;
}

export type StorageVolTypeName = 'file' | 'block' | 'dir' | 'network' | 'netdir' | 'ploop' | 'unknown';

/** virStorageVolGetInfo; sizes in bytes. */
export interface StorageVolInfo {
  type: StorageVolTypeName;
  typeCode: number;
  capacity: number;
  allocation: number;
}

export interface NetworkRef {
  name: string;
  uuid: string;
  active: boolean;
  persistent: boolean;
}
