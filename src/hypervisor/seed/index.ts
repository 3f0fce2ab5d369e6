export { buildIso9660, ISO9660_BLOCK_SIZE, MAX_ISO_FILE_BYTES } from './iso9660.js';
export type { Iso9660File, Iso9660Options } from './iso9660.js';
export {
  buildNoCloudSeed,
  DEFAULT_NETWORK_CONFIG,
  NOCLOUD_VOLUME_ID,
  renderMetaData,
  validateHostname,
  validateInstanceId,
} from './nocloud-seed.js';
export type { NoCloudSeed } from './nocloud-seed.js';
