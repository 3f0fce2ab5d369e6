import { request } from 'node:https';
import { untrustedText } from '../common/untrusted-text.js';

/**
 * How a node leaves its cluster's control plane before its VM is destroyed, per bundle
 * (manifest field `leave`):
 *   - `etcd-member-remove`: a master is removed from etcd membership through another member
 *     (etcd's v3 JSON gateway, `POST /v3/cluster/member/list|remove`). etcd's strict
 *     reconfiguration check refuses a removal that would cost the remaining members their
 *     quorum, so the platform never breaks quorum by removing a member.
 *   - `kubernetes-drain`: the node is cordoned, its pods evicted (honouring disruption budgets),
 *     then the Node object deleted through another master's API server; k3s removes a deleted
 *     server from its embedded etcd.
 * Both talk TLS with the cluster's admin client certificate, signed by the cluster CA.
 */
export type LeaveMethod = 'etcd-member-remove' | 'kubernetes-drain';

export interface ClusterTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface LeaveRequest {
  method: LeaveMethod;
  role: 'master' | 'worker';
  nodeName: string;
  nodeAddress: string | null;
  /** Addresses of the cluster's other masters that may answer (never the leaving node). */
  otherMasters: string[];
  /** The control plane's client port (etcd 2379, Kubernetes 6443). */
  port: number;
  tls: ClusterTls;
  /** Each call's deadline (default 10 s). */
  timeoutMs?: number;
  /** The whole leave's deadline, all calls together (default 60 s). */
  budgetMs?: number;
}

/** Each call gets its own deadline, but never past the leave's whole budget. */
function deadlines(req: LeaveRequest): () => number {
  const perCall = req.timeoutMs ?? 10000;
  const until = Date.now() + (req.budgetMs ?? 60000);
  return () => {
    const left = until - Date.now();
    if (left <= 0)
      throw new Error(`${req.nodeName}: the control plane did not finish within ${req.budgetMs ?? 60000} ms`);
    return Math.min(perCall, left);
  };
}

export interface LeaveResult {
  /** Something was changed (a member removed, a node deleted); false when it was already gone. */
  changed: boolean;
  message: string;
}

/** An answer from the control plane that says "not now" (quorum, disruption budget, no member). */
export class LeaveRefused extends Error {}

interface HttpAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** A control plane's answer larger than this is no answer: the platform reads only small JSON. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * One request to a cluster's control plane, which the tenant controls: it must be complete
 * within `timeoutMs` (a master that drips a byte now and then does not hold a job slot), at most
 * MAX_ANSWER_BYTES long, and is never redirected (node's https.request follows none).
 */
function call(
  url: string,
  method: string,
  tls: ClusterTls,
  body: unknown,
  timeoutMs: number,
  contentType = 'application/json',
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    // Called only from the request's callbacks, once `req` and `timer` exist.
    function fail(err: Error): void {
      clearTimeout(timer);
      req.destroy();
      reject(err);
    }
    const req = request(
      url,
      {
        method,
        ca: tls.caPem,
        cert: tls.certPem,
        key: tls.keyPem,
        timeout: timeoutMs,
        headers: {
          accept: 'application/json',
          'accept-encoding': 'identity',
          ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES)
            fail(new Error(`${method} ${url}: answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
        res.on('error', (err) => fail(err));
      },
    );
    const timer = setTimeout(
      () => fail(new Error(`${method} ${url}: no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('timeout', () => fail(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => fail(err));
    req.end(payload);
  });
}

/** Answer text quoted in an error: one plain line, cut short (the tenant wrote it). */
function short(text: string): string {
  return untrustedText(text, 300);
}

/** An answer that is not the shape the platform asked for. */
function badShape(what: string, why: string): Error {
  return new Error(`${what}: unexpected answer (${why})`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Most list entries taken from an answer: more is no cluster the platform made. */
const MAX_LIST_ENTRIES = 1000;
/** Kubernetes names and namespaces: DNS subdomains and labels. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Tries each endpoint in turn; the first that answers (any HTTP status) wins. */
async function firstAnswer<T>(
  endpoints: string[],
  what: string,
  attempt: (base: string) => Promise<T>,
): Promise<{ base: string; value: T }> {
  const errors: string[] = [];
  for (const base of endpoints) {
    try {
      return { base, value: await attempt(base) };
    } catch (err) {
      if (err instanceof LeaveRefused) throw err;
      errors.push(`${base}: ${(err as Error).message}`);
    }
  }
  throw new Error(`${what}: no other master answers (${errors.join('; ') || 'none known'})`);
}

interface EtcdMember {
  ID: string;
  name?: string;
  peerURLs: string[];
}

/** etcd's `member/list` answer, checked: IDs are uint64 in decimal, as its JSON gateway writes them. */
function etcdMembers(body: unknown): EtcdMember[] {
  const what = 'etcd member list';
  if (!isObject(body)) throw badShape(what, 'not a JSON object');
  const list = body.members ?? [];
  if (!Array.isArray(list) || list.length > MAX_LIST_ENTRIES)
    throw badShape(what, `"members" is not a list of at most ${MAX_LIST_ENTRIES}`);
  return list.map((m: unknown) => {
    if (!isObject(m) || typeof m.ID !== 'string' || !/^[0-9]{1,20}$/.test(m.ID))
      throw badShape(what, 'a member without a numeric "ID"');
    const peerURLs = Array.isArray(m.peerURLs)
      ? m.peerURLs.filter((u): u is string => typeof u === 'string' && u.length <= 2048)
      : [];
    const name = typeof m.name === 'string' && m.name.length <= 253 ? m.name : undefined;
    return { ID: m.ID, name, peerURLs };
  });
}

/** Removes the node's etcd member through another member. Already gone counts as done. */
export async function etcdMemberRemove(req: LeaveRequest): Promise<LeaveResult> {
  const timeoutMs = deadlines(req);
  const endpoints = req.otherMasters.map((a) => `https://${a}:${req.port}`);
  const peerUrl = req.nodeAddress ? `https://${req.nodeAddress}:2380` : null;
  const { base, value: members } = await firstAnswer(endpoints, 'etcd member list', async (b) => {
    const res = await call(`${b}/v3/cluster/member/list`, 'POST', req.tls, {}, timeoutMs());
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${short(res.text)}`);
    return etcdMembers(res.body);
  });
  const me = members.find((m) => m.name === req.nodeName || (peerUrl && m.peerURLs.includes(peerUrl)));
  if (!me) return { changed: false, message: `${req.nodeName} is not an etcd member (any more)` };
  if (members.length < 2) throw new LeaveRefused(`${req.nodeName} is the only etcd member; refusing to remove it`);
  const res = await call(`${base}/v3/cluster/member/remove`, 'POST', req.tls, { ID: me.ID }, timeoutMs());
  if (res.status !== 200) {
    const said = isObject(res.body) && typeof res.body.message === 'string' ? res.body.message : res.text;
    throw new LeaveRefused(`etcd refused to remove member ${me.ID} (${req.nodeName}): ${short(said)}`);
  }
  return {
    changed: true,
    message: `etcd member ${me.ID} (${req.nodeName}) removed through ${base}; ${members.length - 1} member(s) remain`,
  };
}

interface PodItem {
  name: string;
  namespace: string;
  /** A DaemonSet's pod or a static (mirror) pod: not evicted, as kubectl drain leaves them. */
  stays: boolean;
}

/** The pod list's answer, checked: names as Kubernetes allows them, owners and annotations. */
function podsOf(body: unknown, nodeName: string): PodItem[] {
  const what = `list pods on ${nodeName}`;
  if (!isObject(body)) throw badShape(what, 'not a JSON object');
  // A Kubernetes list always has its items, an empty list too.
  const items = body.items;
  if (!Array.isArray(items) || items.length > MAX_LIST_ENTRIES)
    throw badShape(what, `"items" is not a list of at most ${MAX_LIST_ENTRIES}`);
  return items.map((p: unknown) => {
    const meta = isObject(p) ? p.metadata : undefined;
    if (!isObject(meta)) throw badShape(what, 'a pod without "metadata"');
    const { name, namespace, ownerReferences, annotations } = meta;
    if (typeof name !== 'string' || !K8S_NAME.test(name) || typeof namespace !== 'string' || !K8S_NAME.test(namespace))
      throw badShape(what, 'a pod without a valid name and namespace');
    const daemon = Array.isArray(ownerReferences) && ownerReferences.some((o) => isObject(o) && o.kind === 'DaemonSet');
    const mirror = isObject(annotations) && annotations['kubernetes.io/config.mirror'] !== undefined;
    return { name, namespace, stays: daemon || mirror };
  });
}

/** A list in a message: the first few, then how many more. */
function someOf(list: string[], shown = 5): string {
  return list.length <= shown ? list.join(', ') : `${list.slice(0, shown).join(', ')} and ${list.length - shown} more`;
}

/** Cordons the node, evicts its pods, deletes the Node object. Already gone counts as done. */
export async function kubernetesDrain(req: LeaveRequest): Promise<LeaveResult> {
  const timeoutMs = deadlines(req);
  const endpoints = req.otherMasters.map((a) => `https://${a}:${req.port}`);
  const node = encodeURIComponent(req.nodeName);
  const { base, value: cordon } = await firstAnswer(endpoints, 'cordon', async (b) =>
    call(
      `${b}/api/v1/nodes/${node}`,
      'PATCH',
      req.tls,
      { spec: { unschedulable: true } },
      timeoutMs(),
      'application/strategic-merge-patch+json',
    ),
  );
  if (cordon.status === 404)
    return { changed: false, message: `node ${req.nodeName} is not in the cluster (any more)` };
  if (cordon.status !== 200) throw new Error(`cordon ${req.nodeName}: HTTP ${cordon.status}: ${short(cordon.text)}`);

  const pods = await call(
    `${base}/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${req.nodeName}`)}`,
    'GET',
    req.tls,
    undefined,
    timeoutMs(),
  );
  if (pods.status !== 200) throw new Error(`list pods on ${req.nodeName}: HTTP ${pods.status}: ${short(pods.text)}`);
  const evictable = podsOf(pods.body, req.nodeName).filter((p) => !p.stays);
  const blocked: string[] = [];
  for (const p of evictable) {
    const ns = encodeURIComponent(p.namespace);
    const name = encodeURIComponent(p.name);
    const res = await call(
      `${base}/api/v1/namespaces/${ns}/pods/${name}/eviction`,
      'POST',
      req.tls,
      {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: p.name, namespace: p.namespace },
      },
      timeoutMs(),
    );
    // 429: a PodDisruptionBudget says not now; 404: the pod is gone already.
    if (res.status === 429) blocked.push(`${p.namespace}/${p.name}`);
    else if (res.status !== 201 && res.status !== 200 && res.status !== 404)
      throw new Error(`evict ${p.namespace}/${p.name}: HTTP ${res.status}: ${short(res.text)}`);
  }
  if (blocked.length > 0)
    throw new LeaveRefused(`disruption budgets block evicting ${someOf(blocked)} from ${req.nodeName}`);

  const del = await call(`${base}/api/v1/nodes/${node}`, 'DELETE', req.tls, undefined, timeoutMs());
  if (del.status !== 200 && del.status !== 202 && del.status !== 404)
    throw new Error(`delete node ${req.nodeName}: HTTP ${del.status}: ${short(del.text)}`);
  return {
    changed: true,
    message: `${req.nodeName} cordoned, ${evictable.length} pod(s) evicted and the node deleted through ${base}`,
  };
}

export function leaveControlPlane(req: LeaveRequest): Promise<LeaveResult> {
  return req.method === 'etcd-member-remove' ? etcdMemberRemove(req) : kubernetesDrain(req);
}
