export { LibvirtConnection } from './libvirt-connection.js';
export type {
  ChannelCloser,
  ChannelEnd,
  ChannelEndReason,
  CloseListener,
  DomainEventListener,
  LibvirtKeepAlive,
  LibvirtOpenOptions,
  OpenChannelOptions,
} from './libvirt-connection.js';
export { LIBVIRT } from './libvirt-constants.js';
export type { LibvirtConstantName } from './libvirt-constants.js';
export {
  LibvirtError,
  hasLibvirtCode,
  isAlreadyExists,
  isConnectionError,
  isLibvirtError,
  isNotFound,
  isOperationInvalid,
  isUnsupported,
  toLibvirtError,
} from './libvirt-error.js';
export { libvirtAddonPath, loadLibvirtBinding } from './libvirt-binding.js';
export type { NativeBinding, NativeConnection } from './libvirt-binding.js';
export type * from './libvirt-types.js';
