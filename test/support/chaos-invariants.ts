import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import type { Client } from './test-app.js';

/** What the clients were told: every 201/202 they received, in the order they received them. */
const runFile = promisify(execFile);

export interface AcceptedCluster {
  id: string;
  name: string;
  tenantId: string;
  floatingIpId: string;
  /** The declared size of the last accepted create or PATCH. */
  masters: number;
  workers: number;
  /** A DELETE was accepted. */
  deleted: boolean;
}

export interface Ledger {
  clusters: Map<string, AcceptedCluster>;
  floatingIps: Map<string, { tenantId: string; address: string }>;
}

interface NodeRow {
  id: string;
  cluster_id: string;
  role: string;
  phase: string;
  host_id: string | null;
  address: string | null;
  mac: string;
  delete_requested_at: Date | null;
  replace_requested_at: Date | null;
}

interface Inventory {
  domains: { name: string; active: boolean; owner?: { nodeId: string; clusterId: string } }[];
  pools: { name: string; volumes: string[] }[];
}

function duplicates(values: string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const v of values) (seen.has(v) ? dup : seen).add(v);
  return [...dup];
}

/**
 * Checks the end state against what the clients were told, in the database and in libvirt (each
 * host's inventory, asked of the worker that holds it). Returns one line per problem; none when
 * every cluster is at its declared state and nothing is orphaned or handed out twice.
 */
export async function checkInvariants(db: pg.Client, admin: Client, ledger: Ledger): Promise<string[]> {
  const problems: string[] = [];
  const q = async <T>(sql: string): Promise<T[]> => (await db.query(sql)).rows as T[];
  const clusters = await q<{
    id: string;
    name: string;
    phase: string;
    masters: number;
    workers: number;
    deleting_at: Date | null;
    floating_ip_id: string;
    vpc_id: string;
    storage_pool_id: string;
  }>(`SELECT id, name, phase, masters, workers, deleting_at, floating_ip_id, vpc_id, storage_pool_id FROM clusters`);
  const nodes = await q<NodeRow>(
    `SELECT id, cluster_id, role, phase, host_id, host(address) AS address, mac::text AS mac,
            delete_requested_at, replace_requested_at FROM nodes`,
  );
  const ips = await q<{ vpc_id: string; address: string; owner_id: string; released_at: Date | null }>(
    `SELECT vpc_id, host(address) AS address, owner_id, released_at FROM ip_allocations`,
  );
  const volumes = await q<{ owner_id: string }>(`SELECT owner_id FROM volumes`);
  // Tenants' addresses: a VPC router's provider address is the platform's, and goes with its VPC.
  const fips = await q<{ id: string; address: string; cluster_id: string | null }>(
    `SELECT id, host(address) AS address, cluster_id FROM floating_ips WHERE vpc_id IS NULL`,
  );
  const pending = await q<{ idempotency_key: string }>(
    `SELECT idempotency_key FROM idempotency_records WHERE status_code IS NULL`,
  );
  const clusterById = new Map(clusters.map((c) => [c.id, c]));
  const nodeById = new Map(nodes.map((n) => [n.id, n]));

  // Every accepted request's effect is there; nothing is there that no request asked for.
  for (const want of ledger.clusters.values()) {
    const c = clusterById.get(want.id);
    const label = `cluster ${want.name} (${want.id})`;
    if (want.deleted) {
      if (c) problems.push(`${label}: deletion was accepted but it still exists (phase ${c.phase})`);
      continue;
    }
    if (!c) {
      problems.push(`${label}: creation was accepted but it is gone`);
      continue;
    }
    if (c.deleting_at) problems.push(`${label}: being deleted, but no deletion was accepted`);
    if (c.masters !== want.masters || c.workers !== want.workers)
      problems.push(
        `${label}: declares ${c.masters}+${c.workers}, the last accepted request said ${want.masters}+${want.workers}`,
      );
    if (c.phase !== 'Running') problems.push(`${label}: phase ${c.phase}, not Running`);
    const mine = nodes.filter((n) => n.cluster_id === c.id);
    const count = (role: string) => mine.filter((n) => n.role === role).length;
    if (count('master') !== want.masters || count('worker') !== want.workers)
      problems.push(
        `${label}: has ${count('master')}+${count('worker')} nodes, declared ${want.masters}+${want.workers}`,
      );
  }
  for (const c of clusters) {
    if (!ledger.clusters.has(c.id)) problems.push(`cluster ${c.name} (${c.id}) exists but no creation was accepted`);
  }

  // No node in a transitional phase or waiting for a deletion or replacement.
  for (const n of nodes) {
    if (n.phase !== 'Ready' || n.delete_requested_at || n.replace_requested_at)
      problems.push(
        `node ${n.id} of cluster ${clusterById.get(n.cluster_id)?.name}: phase ${n.phase}` +
          `${n.delete_requested_at ? ', deletion pending' : ''}${n.replace_requested_at ? ', replacement pending' : ''}`,
      );
  }

  // VPC addresses: one per node, held by a node, never twice.
  const active = ips.filter((a) => a.released_at === null);
  for (const d of duplicates(ips.map((a) => `${a.vpc_id}/${a.address}`)))
    problems.push(`VPC address ${d} handed out twice`);
  for (const a of active) {
    const n = nodeById.get(a.owner_id);
    if (!n) problems.push(`VPC address ${a.address} is held by ${a.owner_id}, which is no node`);
    else if (n.address !== a.address) problems.push(`node ${n.id} has address ${n.address} but holds ${a.address}`);
    else if (clusterById.get(n.cluster_id)?.vpc_id !== a.vpc_id)
      problems.push(`node ${n.id} holds ${a.address} in a VPC that is not its cluster's`);
  }
  for (const n of nodes) {
    const held = active.filter((a) => a.owner_id === n.id).length;
    if (held !== 1) problems.push(`node ${n.id} holds ${held} VPC addresses`);
  }
  for (const d of duplicates(nodes.filter((n) => n.address).map((n) => n.address!)))
    problems.push(`address ${d} is on two nodes`);

  // Volumes: one per node, none without a node.
  for (const v of volumes)
    if (!nodeById.has(v.owner_id)) problems.push(`volume row of ${v.owner_id}, which is no node`);
  for (const n of nodes) {
    const held = volumes.filter((v) => v.owner_id === n.id).length;
    if (held !== 1) problems.push(`node ${n.id} has ${held} volume rows`);
  }

  // Floating IPs: each accepted one exists, none twice, each bound to a live cluster at most.
  for (const d of duplicates(fips.map((f) => f.address))) problems.push(`floating IP ${d} handed out twice`);
  const fipById = new Map(fips.map((f) => [f.id, f]));
  for (const [id, want] of ledger.floatingIps) {
    const f = fipById.get(id);
    if (!f) problems.push(`floating IP ${want.address} (${id}) was allocated but is gone`);
    else if (f.address !== want.address) problems.push(`floating IP ${id} was ${want.address}, now ${f.address}`);
  }
  for (const f of fips) {
    if (!ledger.floatingIps.has(f.id)) problems.push(`floating IP ${f.address} exists but no allocation was accepted`);
    const c = f.cluster_id ? clusterById.get(f.cluster_id) : undefined;
    if (f.cluster_id && c?.floating_ip_id !== f.id)
      problems.push(`floating IP ${f.address} is bound to ${f.cluster_id}, which does not use it`);
  }
  for (const c of clusters) {
    const f = fipById.get(c.floating_ip_id);
    if (f?.cluster_id !== c.id) problems.push(`cluster ${c.name}: its floating IP is not bound to it`);
  }

  for (const p of pending) problems.push(`request with Idempotency-Key ${p.idempotency_key} is left half-done`);

  // libvirt: every VM and volume has its node, every node has its VM and volumes.
  const hosts = (await admin.call('GET', '/v1/hosts')).body.items as { id: string; name: string }[];
  for (const host of hosts) {
    const res = await admin.call('GET', `/v1/hosts/${host.id}/inventory`);
    if (res.status !== 200) {
      problems.push(`host ${host.name}: inventory answered ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      continue;
    }
    problems.push(
      ...checkHost(
        host.name,
        res.body as Inventory,
        nodes.filter((n) => n.host_id === host.id),
        {
          clusterById,
          nodeById,
        },
      ),
    );
  }
  return problems;
}

function checkHost(
  hostName: string,
  inv: Inventory,
  hostNodes: NodeRow[],
  db: {
    clusterById: Map<string, { vpc_id: string; storage_pool_id: string; name: string }>;
    nodeById: Map<string, NodeRow>;
  },
): string[] {
  const problems: string[] = [];
  const at = `host ${hostName}`;
  const here = new Map(hostNodes.map((n) => [n.id, n]));
  const idIn = (name: string, prefix: string, suffix = '') =>
    name.startsWith(prefix) && name.endsWith(suffix)
      ? name.slice(prefix.length, name.length - suffix.length)
      : undefined;

  for (const d of inv.domains) {
    const id = idIn(d.name, 'kaas-node-');
    if (!id || !here.has(id)) problems.push(`${at}: VM ${d.name} belongs to no node on this host`);
    else if (d.owner?.nodeId !== id) problems.push(`${at}: VM ${d.name} carries no owner metadata of its node`);
    else if (!d.active) problems.push(`${at}: VM ${d.name} is not running`);
  }
  for (const n of hostNodes)
    if (!inv.domains.some((d) => d.name === `kaas-node-${n.id}`)) problems.push(`${at}: node ${n.id} has no VM`);

  const volumes = inv.pools.flatMap((p) => p.volumes.map((v) => ({ pool: p.name, v })));
  for (const { pool, v } of volumes) {
    if (pool === 'kaas-platform') continue;
    const id = idIn(v, 'kaas-node-', '.qcow2') ?? idIn(v, 'kaas-seed-', '.iso');
    const n = id ? here.get(id) : undefined;
    if (!n) problems.push(`${at}: volume ${pool}/${v} belongs to no node on this host`);
    else if (pool !== `kaas-pool-${db.clusterById.get(n.cluster_id)?.storage_pool_id}`)
      problems.push(`${at}: volume ${v} is in ${pool}, not in its cluster's pool`);
  }
  for (const n of hostNodes) {
    for (const v of [`kaas-node-${n.id}.qcow2`, `kaas-seed-${n.id}.iso`])
      if (!volumes.some((x) => x.v === v)) problems.push(`${at}: node ${n.id} has no volume ${v}`);
  }

  return problems;
}

/**
 * The network agrees with the records: exactly one OVN port per node (none of a node that is gone),
 * each with the node's address, and one endpoint per cluster that has a floating IP.
 */
export async function checkNetworkInvariants(db: pg.Client, northbound: string): Promise<string[]> {
  const problems: string[] = [];
  const nodes = (await db.query(`SELECT id, host(address) AS address FROM nodes`)).rows as {
    id: string;
    address: string | null;
  }[];
  const clusters = (await db.query(`SELECT id FROM clusters WHERE floating_ip_id IS NOT NULL AND deleting_at IS NULL`))
    .rows as { id: string }[];
  const nbctl = async (...args: string[]) =>
    (await runFile('ovn-nbctl', [`--db=${northbound}`, '--timeout=10', ...args])).stdout;
  const rows = (table: string, kind: string) =>
    nbctl(
      '--format=csv',
      '--data=bare',
      '--no-headings',
      '--columns=name,addresses',
      'find',
      table,
      `external_ids:kaas\\:kind=${kind}`,
    );
  const ports = new Map(
    (await rows('Logical_Switch_Port', 'node-port'))
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, addresses] = line.split(',');
        return [name, addresses ?? ''] as const;
      }),
  );
  for (const n of nodes) {
    const port = ports.get(n.id);
    // A node between its record and its first network pass has no port yet.
    if (port !== undefined && n.address && !port.includes(n.address))
      problems.push(`port of node ${n.id} has ${port}, not ${n.address}`);
  }
  const ids = new Set(nodes.map((n) => n.id));
  for (const name of ports.keys()) if (!ids.has(name)) problems.push(`OVN port ${name} belongs to no node`);
  const lbs = (await nbctl('--bare', '--columns=name', 'find', 'Load_Balancer', 'external_ids:kaas\\:kind=endpoint-lb'))
    .split(/\s+/)
    .filter(Boolean);
  const wanted = new Set(clusters.map((c) => `kaas-lb-${c.id}`));
  for (const lb of lbs)
    if (!wanted.has(lb)) problems.push(`load balancer ${lb} belongs to no cluster with a floating IP`);
  return problems;
}
