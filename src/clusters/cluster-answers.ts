import type { ClusterStamp } from './clusters.repository.js';

/**
 * Clusters' API answers as JSON text, each kept with the stamp of what it was made from, so that
 * a list whose clusters have not changed since is served without reading their heavy columns,
 * building the answers or serialising them again. An answer is only handed out for a stamp equal
 * to its own (the row's version, its endpoint's address, its nodes' summaries and the endpoint's
 * scheme and port): a cluster written since, a node changed, an endpoint moved make a new one.
 * At most `capacity` answers are kept; the least recently used go first. Per process, never
 * shared: each holds answers of the clusters its own reads made.
 */
export class ClusterAnswers {
  private readonly answers = new Map<string, { key: string; json: string }>();

  constructor(private readonly capacity = 4096) {}

  /** The answer made for this stamp, if there is one. */
  find(stamp: ClusterStamp, endpoint: string): string | undefined {
    const kept = this.answers.get(stamp.id);
    if (!kept || kept.key !== keyOf(stamp, endpoint)) return undefined;
    // Most recently used last: Map keeps insertion order.
    this.answers.delete(stamp.id);
    this.answers.set(stamp.id, kept);
    return kept.json;
  }

  keep(stamp: ClusterStamp, endpoint: string, json: string): void {
    this.answers.delete(stamp.id);
    this.answers.set(stamp.id, { key: keyOf(stamp, endpoint), json });
    if (this.answers.size > this.capacity) this.answers.delete(this.answers.keys().next().value!);
  }

  get size(): number {
    return this.answers.size;
  }
}

function keyOf(stamp: ClusterStamp, endpoint: string): string {
  return `${stamp.version}\n${stamp.floatingIpAddress ?? ''}\n${endpoint}\n${stamp.nodes}`;
}
