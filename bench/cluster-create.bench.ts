/**
 * POST to Running for a simulated 3 masters + 10 workers cluster, with the default simulated
 * guest timings (2 s boot, 3 s install), median of 5. Masters are added one at a time by design.
 */
import { clusterBody, startPlatform, tenantWithInfra, waitForPhase } from '../test/support/platform.js';
import { median, report } from './bench-support.js';

const RUNS = Number(process.env.KAAS_BENCH_RUNS ?? 5);
const p = await startPlatform({
  KAAS_SIM_BOOT_MS: '2000',
  KAAS_SIM_INSTALL_MS: '3000',
  KAAS_REQUEUE_MS: '1000',
  KAAS_LOG_LEVEL: 'warn',
});
try {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await tenantWithInfra(p, `bench-${i}`);
    const t0 = Date.now();
    const res = await s.client.call(
      'POST',
      '/v1/clusters',
      clusterBody(s, { name: `c${i}`, masters: 3, workers: 10, nodeSpec: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } }),
    );
    if (res.status !== 202) throw new Error(JSON.stringify(res.body));
    await waitForPhase(s.client, res.body.id, 'Running', 300000);
    times.push((Date.now() - t0) / 1000);
    await s.client.call('DELETE', `/v1/clusters/${res.body.id}`);
  }
  report('cluster-create-simulated-3+10', {
    runs: RUNS,
    secondsToRunning: times,
    medianSeconds: median(times),
    simBootMs: 2000,
    simInstallMs: 3000,
  });
} finally {
  await p.close();
}
