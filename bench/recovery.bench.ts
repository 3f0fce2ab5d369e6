/**
 * From a worker VM's death (destroyed on its simulated host) to its replacement being Ready,
 * with the default settings (10 s health sweep, 2 s + 3 s simulated boot and install).
 */
import { waitFor } from '../test/support/processes.js';
import { clusterBody, startPlatform, tenantWithInfra, waitForPhase } from '../test/support/platform.js';
import { median, report } from './bench-support.js';

const RUNS = Number(process.env.KAAS_BENCH_RUNS ?? 5);
const p = await startPlatform({
  KAAS_SIM_BOOT_MS: '2000',
  KAAS_SIM_INSTALL_MS: '3000',
  KAAS_REQUEUE_MS: '1000',
  KAAS_HEALTH_INTERVAL_SECONDS: '10',
  KAAS_RESYNC_SECONDS: '15',
  KAAS_LOG_LEVEL: 'warn',
});
try {
  const times: number[] = [];
  // A cluster per run: remediation backs off after 3 replacements in 10 minutes per cluster.
  for (let i = 0; i < RUNS; i++) {
    const s = await tenantWithInfra(p, `recovery-${i}`);
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 2 }));
    const id = created.body.id as string;
    await waitForPhase(s.client, id, 'Running', 120000).catch(async (err: Error) => {
      const events = (await s.client.call('GET', `/v1/clusters/${id}/events?limit=20`)).body.items as {
        reason: string;
        message: string;
      }[];
      throw new Error(`run ${i}: ${err.message}\n${events.map((e) => `${e.reason} ${e.message}`).join('\n')}`);
    });
    const nodes = (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as {
      id: string;
      role: string;
      phase: string;
    }[];
    const victim = nodes.find((n) => n.role === 'worker')!;
    const t0 = Date.now();
    await p.admin.call('POST', `/v1/hosts/${p.hostId}/faults`, { nodeId: victim.id, fault: 'crash' });
    await waitFor(
      'the replacement to be Ready',
      async () => {
        const now = (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as {
          id: string;
          role: string;
          phase: string;
        }[];
        return now.some(
          (n) => n.role === 'worker' && n.id !== victim.id && !nodes.some((o) => o.id === n.id) && n.phase === 'Ready',
        );
      },
      120000,
      100,
    );
    times.push((Date.now() - t0) / 1000);
    await waitForPhase(s.client, id, 'Running', 120000);
  }
  report('recovery-simulated', {
    runs: RUNS,
    secondsDeathToReplacementReady: times,
    medianSeconds: median(times),
    healthIntervalSeconds: 10,
  });
} finally {
  await p.close();
}
