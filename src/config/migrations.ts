import { Foundation1764201600000 } from '../../migrations/1764201600000-Foundation.js';
import { StoragePools1764205200000 } from '../../migrations/1764205200000-StoragePools.js';
import { Networks1764208800000 } from '../../migrations/1764208800000-Networks.js';
import { Hosts1764212400000 } from '../../migrations/1764212400000-Hosts.js';
import { Clusters1764216000000 } from '../../migrations/1764216000000-Clusters.js';
import { Audit1764219600000 } from '../../migrations/1764219600000-Audit.js';
import { StatusPatches1764223200000 } from '../../migrations/1764223200000-StatusPatches.js';
import { EventsRetention1764226800000 } from '../../migrations/1764226800000-EventsRetention.js';
import { OvnNetworks1764230400000 } from '../../migrations/1764230400000-OvnNetworks.js';
import { HostDisk1764234000000 } from '../../migrations/1764234000000-HostDisk.js';
import { WorkerPools1764237600000 } from '../../migrations/1764237600000-WorkerPools.js';
import { ObservedGeneration1764241200000 } from '../../migrations/1764241200000-ObservedGeneration.js';
import { NodeVersions1764244800000 } from '../../migrations/1764244800000-NodeVersions.js';
import { CertificateRotation1764248400000 } from '../../migrations/1764248400000-CertificateRotation.js';
import { Backups1764252000000 } from '../../migrations/1764252000000-Backups.js';
import { IpFreeList1764255600000 } from '../../migrations/1764255600000-IpFreeList.js';

/** The migrations in order. A new file in migrations/ is listed here too. */
export const MIGRATIONS = [
  Foundation1764201600000,
  StoragePools1764205200000,
  Networks1764208800000,
  Hosts1764212400000,
  Clusters1764216000000,
  Audit1764219600000,
  StatusPatches1764223200000,
  EventsRetention1764226800000,
  OvnNetworks1764230400000,
  HostDisk1764234000000,
  WorkerPools1764237600000,
  ObservedGeneration1764241200000,
  NodeVersions1764244800000,
  CertificateRotation1764248400000,
  Backups1764252000000,
  IpFreeList1764255600000,
];
