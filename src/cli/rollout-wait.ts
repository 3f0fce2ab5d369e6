import type { Schemas } from '../api/client.js';
import { type ApiClient, ApiError, dataOf } from './api-client.js';
import { type Progress, waitFor, waitOption } from './events.js';

type Cluster = Schemas['ClusterResponse'];

/** How long `upgrade --wait` and `rotate-certificates --wait` wait when given no number of seconds. */
export const ROLLOUT_WAIT_SECONDS = 1800;

/**
 * The reasons of UpToDate=False while a roll goes on (src/clusters/cluster-plan.ts): nodes are
 * being replaced (`Upgrading`), or the next master waits until every master is ready again
 * (`UpgradeWaiting`, which remediation ends). Any other reason stops a wait.
 */
const ROLLING_REASONS = ['Upgrading', 'UpgradeWaiting'];

export const rolloutWaitOption = () => waitOption('wait for the roll to end (see above)', ROLLOUT_WAIT_SECONDS);

const upToDateOf = (c: Cluster) => c.conditions?.find((x) => x.type === 'UpToDate');

export interface RolloutWait {
  seconds: number;
  /** The generation the request raised the cluster to; undefined when the answer has none. */
  generation: number | undefined;
  /** Once the cluster is Running and up to date: what is still missing, or null when nothing. */
  missing?: (cluster: Cluster) => Promise<string | null> | string | null;
}

/**
 * Looks at the cluster, after each of its events (every second without the event stream), until
 * the reconciler has acted on the request (its observedGeneration reaches the request's
 * generation), the cluster is Running and UpToDate is True, and `missing` finds nothing more. Ends
 * early with a failure when the cluster is Failed or UpToDate is False for a reason other than a
 * roll in progress. Progress goes to stderr.
 */
export async function waitForRollout(
  client: ApiClient,
  name: string,
  first: Cluster,
  wait: RolloutWait,
): Promise<{ cluster: Cluster; failure: string | null }> {
  let next: Cluster | undefined = first;
  const { value, failure } = await waitFor<Cluster>(client, {
    clusterId: first.id,
    seconds: wait.seconds,
    label: `cluster ${name}`,
    timeout: (c) =>
      `cluster ${name} is still ${c.phase} after ${wait.seconds} s; the roll goes on: see kaasctl clusters events ${name}`,
    look: async (): Promise<Progress<Cluster>> => {
      const cluster = next ?? (await getCluster(client, first.id));
      next = undefined;
      const upToDate = upToDateOf(cluster);
      // Until the reconciler has seen the request, phase and conditions describe the cluster before it.
      const observed = wait.generation === undefined || (cluster.observedGeneration ?? 0) >= wait.generation;
      let missing: string | null = null;
      if (observed) {
        if (cluster.phase === 'Failed') return { done: true, value: cluster, failure: `cluster ${name} is Failed` };
        if (upToDate?.status === 'False' && !ROLLING_REASONS.includes(upToDate.reason))
          return {
            done: true,
            value: cluster,
            failure: `cluster ${name} is not up to date (${upToDate.reason}): ${upToDate.message}`,
          };
        // A bundle without the condition is up to date once Running.
        if (cluster.phase === 'Running' && (upToDate === undefined || upToDate.status === 'True')) {
          missing = wait.missing ? await wait.missing(cluster) : null;
          if (missing === null) return { done: true, value: cluster };
        }
      }
      const state = [
        observed ? cluster.phase : `${cluster.phase}, the request not yet taken up`,
        upToDate && observed ? upToDate.message : null,
        missing,
      ]
        .filter(Boolean)
        .join('; ');
      return { done: false, value: cluster, state };
    },
  });
  return { cluster: value, failure: failure ?? null };
}

export const getCluster = (client: ApiClient, id: string): Promise<Cluster> =>
  dataOf(client.api.GET('/v1/clusters/{id}', { params: { path: { id } } }));

/** What a cluster's node counts lack: `2/3 nodes ready`, or null when every declared node is. */
export function nodesMissing(c: Partial<Pick<Cluster, 'nodeCounts'>>): string | null {
  if (!c.nodeCounts || c.nodeCounts.ready >= c.nodeCounts.desired) return null;
  return `${c.nodeCounts.ready}/${c.nodeCounts.desired} nodes ready`;
}

/** Looks at the cluster after each of its events until the API no longer knows it (404). */
export async function waitForClusterGone(client: ApiClient, id: string, name: string, seconds: number): Promise<void> {
  await waitFor<string>(client, {
    clusterId: id,
    seconds,
    label: `cluster ${name}`,
    timeout: (phase) =>
      `cluster ${name} is still ${phase} after ${seconds} s; its deletion goes on: see kaasctl clusters events ${name}`,
    look: async (): Promise<Progress<string>> => {
      try {
        const cluster = await getCluster(client, id);
        return { done: false, value: cluster.phase, state: cluster.phase };
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return { done: true, value: 'gone' };
        throw err;
      }
    },
  });
}
