/**
 * Memory at rest: the API and one worker started from dist/ as `make run` starts them, with no
 * host and no request; their peak RSS through start-up (VmHWM), and their RSS and its anonymous
 * part once idle, after a periodic return of free memory (KAAS_MEMORY_TRIM_MS) has run.
 * Median of 3 starts. What a process holds before any work is the floor under its peak in the
 * scale run.
 *
 *   KAAS_BENCHES=idle make bench
 */
import { median, report } from './bench-support.js';
import { HIGH_RATE_LIMITS, processMemory, type ProcessMemory, startBenchPlatform } from './bench-processes.js';

const RUNS = Number(process.env.KAAS_BENCH_RUNS ?? 3);
/** The periodic return of free memory in this run, and how long the processes rest. */
const TRIM_MS = 10000;
const REST_MS = TRIM_MS + 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const samples: { api: ProcessMemory; worker: ProcessMemory }[] = [];
for (let run = 0; run < RUNS; run++) {
  const p = await startBenchPlatform(1, { ...HIGH_RATE_LIMITS, KAAS_MEMORY_TRIM_MS: String(TRIM_MS) });
  try {
    await sleep(REST_MS);
    const api = processMemory(p.api.child.pid!);
    const worker = processMemory(p.workers[0].child.pid!);
    if (!api || !worker) throw new Error('a process died at rest');
    console.log(
      `  run ${run + 1}: API peak ${api.peakRssMiB} MiB, now ${api.rssMiB} (anon ${api.anonMiB}); ` +
        `worker peak ${worker.peakRssMiB}, now ${worker.rssMiB} (anon ${worker.anonMiB})`,
    );
    samples.push({ api, worker });
  } finally {
    await p.stop();
  }
}

const med = (pick: (s: (typeof samples)[number]) => number) => median(samples.map(pick));
report('idle', {
  runs: RUNS,
  restSeconds: REST_MS / 1000,
  memoryTrimMs: TRIM_MS,
  note: 'MiB, medians of the runs; peak = VmHWM through start-up, the rest after resting',
  api: {
    startupPeakRssMiB: med((s) => s.api.peakRssMiB),
    idleRssMiB: med((s) => s.api.rssMiB),
    idleAnonMiB: med((s) => s.api.anonMiB),
  },
  worker: {
    startupPeakRssMiB: med((s) => s.worker.peakRssMiB),
    idleRssMiB: med((s) => s.worker.rssMiB),
    idleAnonMiB: med((s) => s.worker.anonMiB),
  },
});
