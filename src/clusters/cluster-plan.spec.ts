import { describe, expect, it } from '@jest/globals';
import { type PlanInput, type PlanNode, planCluster } from './cluster-plan.js';

let seq = 0;
function node(role: 'master' | 'worker', over: Partial<PlanNode> = {}): PlanNode {
  seq++;
  return {
    id: `${role[0]}${seq}`,
    role,
    pool: role === 'worker' ? 'default' : null,
    ready: true,
    provisioned: true,
    unhealthy: false,
    deleting: false,
    replaceRequested: false,
    replacesNodeId: null,
    createdAt: seq,
    ...over,
  };
}

/** `workers: N` stands for one pool, `default`, of N (as a cluster declared with `workers`). */
function input(over: Partial<PlanInput> & { workers?: number }): PlanInput {
  const { workers = 2, ...rest } = over;
  return {
    masters: 1,
    pools: [{ name: 'default', count: workers }],
    deleting: false,
    nodes: [],
    wasRunning: false,
    scaling: false,
    ...rest,
  };
}

const kinds = (p: ReturnType<typeof planCluster>) =>
  p.actions.map((a) =>
    a.kind === 'create'
      ? `create:${a.role}${a.replaces ? `>${a.replaces}` : ''}`
      : a.kind === 'delete'
        ? `delete:${a.nodeId}`
        : a.kind,
  );

describe('planCluster', () => {
  it.each<[string, () => PlanInput, string[], string]>([
    ['an empty cluster starts with one master', () => input({}), ['create:master'], 'Provisioning'],
    [
      'a node removed while its host is unreachable (fenced) does not hold the cluster back',
      () =>
        input({
          wasRunning: true,
          nodes: [
            node('master'),
            node('worker'),
            node('worker', { deleting: true, fenced: true, unhealthy: true, ready: false }),
            node('worker', { replacesNodeId: 'w-gone' }),
          ],
        }),
      [],
      'Running',
    ],
    [
      'a node still being removed on a reachable host does',
      () =>
        input({
          wasRunning: true,
          nodes: [node('master'), node('worker'), node('worker', { deleting: true, ready: false }), node('worker')],
        }),
      [],
      'Degraded',
    ],
    [
      'a worker added by a scale-up, still booting, keeps it Updating',
      () =>
        input({
          wasRunning: true,
          workers: 3,
          nodes: [node('master'), node('worker'), node('worker'), node('worker', { ready: false, joining: true })],
        }),
      [],
      'Updating',
    ],
    [
      'a node that was ready and is no longer makes it Degraded',
      () =>
        input({
          wasRunning: true,
          nodes: [node('master'), node('worker'), node('worker', { ready: false, joining: false })],
        }),
      [],
      'Degraded',
    ],
    [
      'workers wait for the first master',
      () => input({ nodes: [node('master', { ready: false })] }),
      [],
      'Provisioning',
    ],
    [
      'workers start together once a master is ready',
      () => input({ nodes: [node('master')] }),
      ['create:worker', 'create:worker'],
      'Provisioning',
    ],
    [
      'further masters come one by one',
      () => input({ masters: 3, workers: 0, nodes: [node('master'), node('master', { ready: false })] }),
      [],
      'Provisioning',
    ],
    [
      'the next master follows when the others are ready',
      () => input({ masters: 3, workers: 0, nodes: [node('master'), node('master')] }),
      ['create:master'],
      'Provisioning',
    ],
    [
      'a cluster at size is Running and does nothing',
      () => input({ nodes: [node('master'), node('worker'), node('worker')] }),
      [],
      'Running',
    ],
  ])('%s', (_l, make, expected, phase) => {
    const plan = planCluster(make());
    expect(kinds(plan)).toEqual(expected);
    expect(plan.phase).toBe(phase);
  });

  it('scales workers down by the delete policy: unhealthy first, then newest', () => {
    const m = node('master');
    const old = node('worker');
    const sick = node('worker', { unhealthy: true, ready: false });
    const newest = node('worker');
    const plan = planCluster(input({ workers: 1, nodes: [m, old, sick, newest], wasRunning: true, scaling: true }));
    expect(kinds(plan)).toEqual([`delete:${sick.id}`, `delete:${newest.id}`]);
    expect(plan.phase).toBe('Degraded');
  });

  it('scales masters down one at a time and waits while one is leaving', () => {
    const masters = [node('master'), node('master'), node('master')];
    const first = planCluster(input({ masters: 1, workers: 0, nodes: masters, wasRunning: true, scaling: true }));
    expect(kinds(first)).toEqual([`delete:${masters[2].id}`]);
    expect(first.phase).toBe('Updating');
    const leaving = { ...masters[2], deleting: true };
    expect(
      kinds(
        planCluster(
          input({ masters: 1, workers: 0, nodes: [masters[0], masters[1], leaving], wasRunning: true, scaling: true }),
        ),
      ),
    ).toEqual([]);
  });

  it('replaces a worker by surging: new node first, the old one removed when the new is ready', () => {
    const m = node('master');
    const w = node('worker', { replaceRequested: true, unhealthy: true, ready: false });
    expect(kinds(planCluster(input({ workers: 1, nodes: [m, w], wasRunning: true })))).toEqual([
      `create:worker>${w.id}`,
    ]);
    const r = node('worker', { replacesNodeId: w.id, ready: false });
    expect(kinds(planCluster(input({ workers: 1, nodes: [m, w, r], wasRunning: true })))).toEqual([]);
    const readyR = { ...r, ready: true };
    const plan = planCluster(input({ workers: 1, nodes: [m, w, readyR], wasRunning: true }));
    expect(kinds(plan)).toEqual([`delete:${w.id}`]);
    expect(plan.phase).toBe('Degraded');
    expect(planCluster(input({ workers: 1, nodes: [m, readyR], wasRunning: true })).phase).toBe('Running');
  });

  it('replaces a master only while the other masters are ready', () => {
    const a = node('master');
    const b = node('master', { ready: false });
    const c = node('master', { replaceRequested: true });
    expect(kinds(planCluster(input({ masters: 3, workers: 0, nodes: [a, b, c], wasRunning: true })))).toEqual([]);
    expect(
      kinds(planCluster(input({ masters: 3, workers: 0, nodes: [a, { ...b, ready: true }, c], wasRunning: true }))),
    ).toEqual([`create:master>${c.id}`]);
  });

  it('removes an unhealthy master of three before its replacement joins, then makes the missing one', () => {
    const a = node('master');
    const b = node('master');
    const dead = node('master', { replaceRequested: true, unhealthy: true, ready: false });
    const first = planCluster(input({ masters: 3, workers: 0, nodes: [a, b, dead], wasRunning: true }));
    expect(kinds(first)).toEqual([`delete:${dead.id}`]);
    const then = planCluster(
      input({ masters: 3, workers: 0, nodes: [a, b, { ...dead, deleting: true }], wasRunning: true }),
    );
    expect(kinds(then)).toEqual([]);
    expect(kinds(planCluster(input({ masters: 3, workers: 0, nodes: [a, b], wasRunning: true })))).toEqual([
      'create:master',
    ]);
    // A healthy master asked to be replaced still surges: the new one first.
    const asked = node('master', { replaceRequested: true });
    expect(kinds(planCluster(input({ masters: 3, workers: 0, nodes: [a, b, asked], wasRunning: true })))).toEqual([
      `create:master>${asked.id}`,
    ]);
  });

  it('deletes every node and then finalizes a deleted cluster', () => {
    const nodes = [node('master'), node('worker')];
    const plan = planCluster(input({ deleting: true, nodes }));
    expect(kinds(plan)).toEqual(nodes.map((n) => `delete:${n.id}`));
    expect(plan.phase).toBe('Deleting');
    expect(kinds(planCluster(input({ deleting: true, nodes: [] })))).toEqual(['finalize']);
  });

  it('is idempotent: planning again from the state a plan leads to adds nothing new', () => {
    const m = node('master');
    const w1 = node('worker', { ready: false, provisioned: false });
    const w2 = node('worker', { ready: false, provisioned: false });
    const plan = planCluster(input({ nodes: [m, w1, w2] }));
    expect(plan.actions).toEqual([]);
    expect(plan.nodesToReconcile).toEqual([w1.id, w2.id]);
    expect(plan.conditions.find((c) => c.type === 'InfrastructureReady')?.status).toBe('False');
  });

  describe('worker pools', () => {
    const withPool = (pool: string, over: Partial<PlanNode> = {}) => node('worker', { pool, ...over });
    const creates = (p: ReturnType<typeof planCluster>) =>
      p.actions.map((a) =>
        a.kind === 'create' && a.role === 'worker' ? `create:${a.pool}` : kinds({ ...p, actions: [a] })[0],
      );

    it('makes each pool up to its count, only once the control plane answers', () => {
      const pools = [
        { name: 'default', count: 1 },
        { name: 'gpu', count: 2 },
      ];
      expect(creates(planCluster(input({ pools, nodes: [node('master', { ready: false })] })))).toEqual([]);
      expect(creates(planCluster(input({ pools, nodes: [node('master'), withPool('gpu')] })))).toEqual([
        'create:default',
        'create:gpu',
      ]);
    });

    it('scales one pool down without touching the other, and is Running only when every pool is', () => {
      const m = node('master');
      const g1 = withPool('gpu', { createdAt: 100 });
      const g2 = withPool('gpu', { createdAt: 200 });
      const d1 = withPool('default');
      const pools = [
        { name: 'default', count: 1 },
        { name: 'gpu', count: 1 },
      ];
      const plan = planCluster(input({ pools, nodes: [m, d1, g1, g2], wasRunning: true, scaling: true }));
      expect(kinds(plan)).toEqual([`delete:${g2.id}`]);
      expect(plan.phase).toBe('Updating');
      const done = planCluster(input({ pools, nodes: [m, d1, g1], wasRunning: true }));
      expect(done.phase).toBe('Running');
      // Right total, wrong pools: not at the declared size.
      const mixed = planCluster(input({ pools, nodes: [m, g1, g2], wasRunning: true }));
      expect(mixed.phase).not.toBe('Running');
      expect(creates(mixed)).toEqual(['create:default', `delete:${g2.id}`]);
    });

    it("removes a removed pool's nodes, surges included, and replaces a worker in its own pool", () => {
      const m = node('master');
      const old = withPool('old');
      const surge = withPool('old', { replacesNodeId: old.id, ready: false });
      const sick = withPool('gpu', { replaceRequested: true, unhealthy: true, ready: false });
      const plan = planCluster(
        input({ pools: [{ name: 'gpu', count: 1 }], nodes: [m, old, surge, sick], wasRunning: true }),
      );
      expect(creates(plan)).toEqual([`create:gpu`, `delete:${old.id}`, `delete:${surge.id}`]);
      expect(plan.actions[0]).toEqual({ kind: 'create', role: 'worker', pool: 'gpu', replaces: sick.id });
    });
  });

  describe('rolling upgrades', () => {
    const old = (role: 'master' | 'worker', over: Partial<PlanNode> = {}) => node(role, { outdated: true, ...over });
    const upToDate = (p: ReturnType<typeof planCluster>) => p.conditions.find((c) => c.type === 'UpToDate');

    it('replaces the oldest outdated master first, surging, and nothing else meanwhile', () => {
      const [m1, m2, m3] = [old('master'), old('master'), old('master')];
      const w = old('worker');
      const plan = planCluster(input({ masters: 3, workers: 1, nodes: [m1, m2, m3, w], wasRunning: true }));
      expect(kinds(plan)).toEqual([`create:master>${m1.id}`]);
      expect(plan.phase).toBe('Updating');
      expect(upToDate(plan)).toMatchObject({ status: 'False', reason: 'Upgrading' });
      // The new one joining: nothing more.
      const joining = node('master', { replacesNodeId: m1.id, ready: false });
      expect(
        kinds(planCluster(input({ masters: 3, workers: 1, nodes: [m1, m2, m3, w, joining], wasRunning: true }))),
      ).toEqual([]);
      // Ready: the old one leaves, and the next waits for it.
      const joined = { ...joining, ready: true };
      expect(
        kinds(planCluster(input({ masters: 3, workers: 1, nodes: [m1, m2, m3, w, joined], wasRunning: true }))),
      ).toEqual([`delete:${m1.id}`]);
      const leaving = { ...m1, deleting: true };
      expect(
        kinds(planCluster(input({ masters: 3, workers: 1, nodes: [leaving, m2, m3, w, joined], wasRunning: true }))),
      ).toEqual([]);
      expect(
        kinds(planCluster(input({ masters: 3, workers: 1, nodes: [m2, m3, w, joined], wasRunning: true }))),
      ).toEqual([`create:master>${m2.id}`]);
    });

    it('waits, saying why, while a master is not ready', () => {
      const plan = planCluster(
        input({
          masters: 3,
          workers: 0,
          nodes: [old('master'), old('master', { ready: false }), node('master')],
          wasRunning: true,
        }),
      );
      expect(kinds(plan)).toEqual([]);
      expect(upToDate(plan)).toMatchObject({ status: 'False', reason: 'UpgradeWaiting' });
    });

    it('then rolls each pool maxSurge at a time, and is Running once every node is at the version', () => {
      const m = node('master');
      const [a, b, c] = [old('worker'), old('worker'), old('worker')];
      const plan = planCluster(input({ workers: 3, nodes: [m, a, b, c], wasRunning: true }));
      expect(kinds(plan)).toEqual([`create:worker>${a.id}`]);
      expect(kinds(planCluster(input({ workers: 3, nodes: [m, a, b, c], wasRunning: true, maxSurge: 2 })))).toEqual([
        `create:worker>${a.id}`,
        `create:worker>${b.id}`,
      ]);
      const surging = node('worker', { replacesNodeId: a.id, ready: false });
      expect(kinds(planCluster(input({ workers: 3, nodes: [m, a, b, c, surging], wasRunning: true })))).toEqual([]);
      const done = planCluster(
        input({ workers: 3, nodes: [m, node('worker'), node('worker'), node('worker')], wasRunning: true }),
      );
      expect(done.phase).toBe('Running');
      expect(upToDate(done)).toMatchObject({ status: 'True' });
    });
  });
});
