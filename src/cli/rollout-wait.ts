import { Option } from 'commander';
import type { ApiClient } from './api-client.js';

/** What a roll's wait reads of a cluster. */
export interface RolloutCluster {
  id: string;
  phase: string;
  conditions?: { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string }[];
  observedGeneration?: number;
}

/** How long `upgrade --wait` and `rotate-certificates --wait` wait when given no number of seconds. */
export const ROLLOUT_WAIT_SECONDS = 1800;
const POLL_MS = 1000;

/**
 * The reasons of UpToDate=False while a roll goes on (src/clusters/cluster-plan.ts): nodes are
 * being replaced (`Upgrading`), or the next master waits until every master is ready again
 * (`UpgradeWaiting`, which remediation ends). Any other reason stops a wait.
 */
const ROLLING_REASONS = ['Upgrading', 'UpgradeWaiting'];

/** `--wait[=seconds]`: how long to wait for the roll to finish. */
function waitOption(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new Error(`--wait must be a whole number of seconds (at least 1), got "${value}"`);
  return Number(value);
}

export const rolloutWaitOption = () =>
  new Option('--wait [seconds]', 'wait for the roll to end (see above), this long at most')
    .argParser(waitOption)
    .preset(String(ROLLOUT_WAIT_SECONDS));

const upToDateOf = (c: RolloutCluster) => c.conditions?.find((x) => x.type === 'UpToDate');

export interface RolloutWait {
  seconds: number;
  /** The generation the request raised the cluster to; undefined when the answer has none. */
  generation: number | undefined;
  /** Once the cluster is Running and up to date: what is still missing, or null when nothing. */
  missing?: () => Promise<string | null>;
}

/**
 * Asks for the cluster every second until the reconciler has acted on the request (its
 * observedGeneration reaches the request's generation), the cluster is Running and UpToDate is
 * True, and `missing` finds nothing more. Ends early with a failure when the cluster is Failed or
 * UpToDate is False for a reason other than a roll in progress. Progress goes to stderr.
 */
export async function waitForRollout<C extends RolloutCluster>(
  client: ApiClient,
  name: string,
  first: C,
  wait: RolloutWait,
): Promise<{ cluster: C; failure: string | null }> {
  const deadline = Date.now() + wait.seconds * 1000;
  let cluster = first;
  let shown: string | undefined;
  for (;;) {
    const upToDate = upToDateOf(cluster);
    // Until the reconciler has seen the request, phase and conditions describe the cluster before it.
    const observed = wait.generation === undefined || (cluster.observedGeneration ?? 0) >= wait.generation;
    let missing: string | null = null;
    if (observed) {
      if (cluster.phase === 'Failed') return { cluster, failure: `cluster ${name} is Failed` };
      if (upToDate?.status === 'False' && !ROLLING_REASONS.includes(upToDate.reason))
        return { cluster, failure: `cluster ${name} is not up to date (${upToDate.reason}): ${upToDate.message}` };
      if (cluster.phase === 'Running' && upToDate?.status === 'True') {
        missing = wait.missing ? await wait.missing() : null;
        if (missing === null) return { cluster, failure: null };
      }
    }
    const state = [
      observed ? cluster.phase : `${cluster.phase}, the request not yet taken up`,
      upToDate && observed ? upToDate.message : null,
      missing,
    ]
      .filter(Boolean)
      .join('; ');
    if (state !== shown) {
      process.stderr.write(`cluster ${name}: ${state}\n`);
      shown = state;
    }
    const left = deadline - Date.now();
    if (left <= 0)
      throw new Error(
        `cluster ${name} is still ${cluster.phase} after ${wait.seconds} s; the roll goes on: see kaasctl clusters events ${name}`,
      );
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    cluster = await client.request<C>('GET', `/v1/clusters/${cluster.id}`);
  }
}
