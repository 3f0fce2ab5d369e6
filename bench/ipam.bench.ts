/**
 * Address allocation throughput: 16 concurrent clients allocating VPC addresses for 10 s against
 * the real PostgreSQL (the same service call cluster reconcilers make). Run: make bench.
 */
import { randomUUID } from 'node:crypto';
import { Database } from '../src/common/database.js';
import { VpcsService } from '../src/networks/vpcs.service.js';
import { createTenant, startTestApp } from '../test/support/test-app.js';
import { median, percentile, report } from './bench-support.js';

const CLIENTS = 16;
const SECONDS = Number(process.env.KAAS_BENCH_SECONDS ?? 10);

const t = await startTestApp({ KAAS_LOG_LEVEL: 'warn' });
try {
  const tenant = await createTenant(t, 'bench');
  const vpc = await tenant.client.call('POST', '/v1/vpcs', { name: 'big', cidr: '10.100.0.0/16' });
  const vpcs = t.app.get(VpcsService);
  const db = t.app.get(Database);
  const latencies: number[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const t0 = performance.now();
        const address = await db.transaction((tx) =>
          vpcs.allocateAddress(tx, tenant.id, vpc.body.id, { kind: 'node', id: randomUUID() }),
        );
        latencies.push(performance.now() - t0);
        if (seen.has(address)) duplicates++;
        seen.add(address);
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  report('ipam-allocation', {
    clients: CLIENTS,
    seconds: Math.round(elapsed * 10) / 10,
    allocations: latencies.length,
    addressesPerSecond: Math.round(latencies.length / elapsed),
    latencyMs: { p50: Math.round(median(latencies) * 10) / 10, p99: Math.round(percentile(latencies, 99) * 10) / 10 },
    duplicates,
  });
} finally {
  await t.close();
}
