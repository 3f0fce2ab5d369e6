/**
 * The figures of issue 18's table beside their targets, read from the newest results in
 * bench/results/ (each row says when its figure was taken and the machine's load then). `make
 * bench` prints it at the end, with the load when the run began and ended:
 *
 *   node dist-bench/bench/summary.js [loadAtStart]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineLoad, RESULTS_DIR } from './bench-support.js';

type Json = Record<string, unknown>;

function load(name: string): Json | undefined {
  const file = join(RESULTS_DIR, `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Json) : undefined;
}

/** A value at a dotted path, or undefined. */
function at(doc: Json | undefined, path: string): unknown {
  let v: unknown = doc;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Json)[key];
  }
  return v;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

interface Row {
  figure: string;
  value: number | undefined;
  unit: string;
  target: number;
  /** true: the figure must stay at or below the target; false: at or above. */
  lowerIsBetter: boolean;
  source: Json | undefined;
  note?: string;
}

function cpuPerNode(scale: Json | undefined): { value: number | undefined; note?: string } {
  // The bill: API, workers, PostgreSQL's backends, Redis and the Northbound database together.
  const totalMs = num(at(scale, 'bill.perNode.cpuMsAll'));
  if (totalMs !== undefined) return { value: totalMs / 1000 };
  const nodes = num(at(scale, 'nodes'));
  const api = num(at(scale, 'create.cpuSecondsDuringCreate.api'));
  const workers = at(scale, 'create.cpuSecondsDuringCreate.workers');
  if (!nodes || api === undefined || !Array.isArray(workers)) return { value: undefined };
  const sum = api + workers.reduce((s: number, w) => s + (num(w) ?? 0), 0);
  return { value: sum / nodes, note: 'API and workers only' };
}

function rows(): Row[] {
  const scale = load('scale-1-worker');
  const api = load('api');
  const ipam = load('ipam-allocation');
  const cpu = cpuPerNode(scale);
  return [
    {
      figure: '1,000 × (1+2) on 10 simulated hosts, POST → all Running, 1 worker',
      value: num(at(scale, 'create.secondsToAllRunning')),
      unit: 's',
      target: 60,
      lowerIsBetter: true,
      source: scale,
    },
    {
      figure: 'CPU-seconds per node, all processes together',
      value: cpu.value,
      unit: 's',
      target: 0.03,
      lowerIsBetter: true,
      source: scale,
      note: cpu.note,
    },
    {
      figure: 'GET /v1/clusters/:id at 500 req/s, 1,000 clusters, p99',
      value: num(at(api, 'scenarios.getCluster.fixedRate.latencyMs.p99')),
      unit: 'ms',
      target: 25,
      lowerIsBetter: true,
      source: api,
    },
    {
      figure: 'first page of 100 clusters, flat out',
      value: num(at(api, 'scenarios.listClustersFullPage.maxThroughput.requestsPerSecond')),
      unit: 'req/s',
      target: 500,
      lowerIsBetter: false,
      source: api,
    },
    {
      figure: 'VPC address allocations, 16 clients',
      value: num(at(ipam, 'addressesPerSecond')),
      unit: '/s',
      target: 2000,
      lowerIsBetter: false,
      source: ipam,
    },
    {
      figure: 'health sweep over 3,000 nodes (median)',
      value: num(at(scale, 'sweep.medianSeconds')),
      unit: 's',
      target: 1,
      lowerIsBetter: true,
      source: scale,
    },
    {
      figure: 'peak RSS of the API during the 1,000-cluster run',
      value: num(at(scale, 'memory.apiPeakRssMiB')),
      unit: 'MiB',
      target: 150,
      lowerIsBetter: true,
      source: scale,
    },
    {
      figure: 'peak RSS of the worker during the 1,000-cluster run',
      value: num((at(scale, 'memory.workerPeakRssMiB') as unknown[] | undefined)?.[0]),
      unit: 'MiB',
      target: 250,
      lowerIsBetter: true,
      source: scale,
    },
  ];
}

const loadText = (l: unknown) => (Array.isArray(l) ? l.map((x) => Number(x).toFixed(2)).join(' ') : '?');

export function summary(loadAtStart?: string): string {
  const lines = [
    '',
    'figure                                                                now          target      met   taken (load then)',
  ];
  for (const r of rows()) {
    const value = r.value === undefined ? 'not run' : `${+r.value.toPrecision(3)} ${r.unit}`;
    const target = `${r.lowerIsBetter ? '≤' : '≥'} ${r.target} ${r.unit}`;
    const within = r.lowerIsBetter ? (r.value ?? Infinity) <= r.target : (r.value ?? -Infinity) >= r.target;
    // A figure that leaves something out cannot say the target is met.
    const met = r.value === undefined ? '-' : !within ? 'NO' : r.note ? '?' : 'yes';
    const when = r.source ? `${String(r.source.at).slice(0, 16)} (${loadText(at(r.source, 'machine.loadAvg'))})` : '';
    lines.push(
      `${r.figure.padEnd(70)}${value.padEnd(13)}${target.padEnd(12)}${met.padEnd(6)}${when}${r.note ? `  [${r.note}]` : ''}`,
    );
  }
  // Not a row of the table: the same run with each simulated host in a libvirtd of its own, where
  // a real host keeps its domains (the issue's run has them inside the worker).
  const daemons = load('scale-1-worker-host-daemons');
  if (daemons) {
    const f = (path: string) => String(num(at(daemons, path)) ?? '?');
    const worker = num((at(daemons, 'memory.workerPeakRssMiB') as unknown[] | undefined)?.[0]) ?? '?';
    lines.push(
      '',
      `the same run with each simulated host in a libvirtd of its own (scale-1-worker-host-daemons, ${String(daemons.at).slice(0, 16)}):`,
      `  peak RSS API ${f('memory.apiPeakRssMiB')} MiB, worker ${worker} MiB; all Running in ${f('create.secondsToAllRunning')} s; ` +
        `CPU per node ${f('bill.perNode.cpuMsAll')} ms (worker ${f('bill.perNode.cpuMs.workers')}, the daemons ${f('bill.perNode.cpuMs.hypervisors')}); ` +
        `sweep ${f('sweep.medianSeconds')} s`,
    );
  }
  lines.push(
    '',
    `machine load at the start of this run: ${loadAtStart ?? '?'}; at its end: ${loadText(machineLoad().loadAvg)}`,
  );
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('summary.js')) process.stdout.write(`${summary(process.argv[2])}\n`);
