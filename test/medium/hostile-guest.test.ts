import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createClusterSecrets, issueCertificate, type ClusterSecrets } from '../../src/control-plane/cluster-pki.js';
import { leaveControlPlane, type LeaveRequest } from '../../src/control-plane/control-plane-leave.js';
import { ChannelGuestProbe, type GuestChannelSource } from '../../src/hypervisor/backends/guest-status-channel.js';
import type { ProbeResult } from '../../src/hypervisor/backends/guest-status.js';
import type { ChannelCloser, ChannelEnd } from '../../src/hypervisor/libvirt/index.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { mulberry32 } from '../support/prng.js';

/**
 * Fuzz-style: a stand-in guest answers the worker with hostile data, picked and shaped by a
 * seeded generator (KAAS_FUZZ_SEED replays a run), on both ways the worker hears from a tenant's
 * VMs: the status channel (read through libvirt in production, played here by a stand-in channel)
 * and the cluster's control plane (etcd member removal and Kubernetes drain over HTTPS, against a
 * stand-in server). Every call must end within its deadline, the process's memory must stay
 * bounded while tens of MiB are thrown at it, and whatever is recorded (a probe's error, a
 * status message, a leave's reason) must be one short, plain line.
 */
const SEED = Number(process.env.KAAS_FUZZ_SEED ?? 20261207);
const random = mulberry32(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

/** Characters a hostile guest likes: newlines, terminal escapes, bidi overrides, NUL, emoji. */
const NASTY = [
  '\n',
  '\r\n',
  '\u001b[2J',
  '\u001b]0;owned\u0007',
  '\u202e',
  '\u2028',
  '\u0000',
  '\ufeff',
  '😀',
  '"',
  '\\',
];
function nastyText(length: number): string {
  let s = '';
  while (s.length < length) s += random() < 0.3 ? pick(NASTY) : String.fromCharCode(between(0x20, 0x7e));
  return s;
}

/** What may be recorded from a tenant's answer: one line, printable, short. */
function expectSafe(text: string, max: number): void {
  expect(text.length).toBeLessThanOrEqual(max);
  // eslint-disable-next-line no-control-regex -- looking for control characters is the point
  expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/);
}

/** Peak growth of this process's resident memory while `work` runs, sampled every 5 ms. */
async function measured<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; peakGrowthMiB: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const started = Date.now();
  try {
    const value = await work();
    return {
      value,
      ms: Date.now() - started,
      peakGrowthMiB: (Math.max(peak, process.memoryUsage().rss) - base) / 2 ** 20,
    };
  } finally {
    clearInterval(sampler);
  }
}

const figures: string[] = [];
afterAll(() => {
  process.stdout.write(`[hostile guest, seed ${SEED}]\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

describe(`the status channel of a hostile guest (seed ${SEED})`, () => {
  const NODE = randomUUID();
  const DOMAIN = libvirtNames.domain(NODE);
  const MiB = 2 ** 20;

  /** A stand-in channel: `play` writes what the guest sends, from the moment the channel opens. */
  class StandInChannel implements GuestChannelSource {
    play: (send: (chunk: Buffer) => void, end: (e: ChannelEnd) => void) => () => void = () => () => undefined;
    private stop: (() => void) | undefined;

    async openChannel(
      _domain: string,
      _channel: string,
      onData: (chunk: Buffer) => void,
      onClose: (end: ChannelEnd) => void,
    ): Promise<ChannelCloser> {
      let closed = false;
      const stop = this.play(
        (chunk) => !closed && onData(chunk),
        (e) => {
          if (closed) return;
          closed = true;
          onClose(e);
        },
      );
      this.stop = stop;
      return async () => {
        closed = true;
        stop();
      };
    }

    halt(): void {
      this.stop?.();
    }
  }

  const line = (status: Record<string, unknown>) => Buffer.from(`\n${JSON.stringify(status)}\n`);
  const good = (over: Record<string, unknown> = {}) => ({
    stage: 'ready',
    ready: true,
    message: 'ok',
    details: { nodeId: NODE },
    ...over,
  });

  /** Streams `total` bytes of `make(size)` chunks, one chunk per tick, as fast as it is read. */
  const flood = (make: (size: number) => Buffer, total: number) => (send: (c: Buffer) => void) => {
    let sent = 0;
    let stopped = false;
    const next = () => {
      if (stopped || sent >= total) return;
      const chunk = make(Math.min(256 * 1024, total - sent));
      sent += chunk.length;
      send(chunk);
      setImmediate(next);
    };
    setImmediate(next);
    return () => (stopped = true);
  };

  type Case = { name: string; play: StandInChannel['play']; expectAnswer?: boolean };
  /** Made before any measurement: what the guest sends is not what the worker keeps. */
  const braces = Buffer.alloc(256 * 1024, 0x7b);
  const hugeLine = Buffer.from(
    `\n${JSON.stringify(good({ details: { nodeId: NODE, pad: 'x'.repeat(between(8, 32) * MiB) } }))}\n`,
  );
  const cases = (): Case[] => [
    {
      name: 'another node id',
      play: (send) => (send(line(good({ details: { nodeId: nastyText(between(1, 128)) } }))), () => undefined),
    },
    {
      name: 'hostile message in a good status',
      expectAnswer: true,
      play: (send) => (send(line(good({ message: nastyText(between(200, 4000)) }))), () => undefined),
    },
    {
      name: 'unknown stage',
      play: (send) => (send(line(good({ stage: nastyText(between(1, 3000)) }))), () => undefined),
    },
    {
      name: 'no details, details not an object, ready not a boolean',
      play: (send) => (
        send(line(pick([good({ details: undefined }), good({ details: [NODE] }), good({ ready: 'yes' })]))),
        () => undefined
      ),
    },
    {
      name: 'binary garbage',
      play: flood(
        (size) => Buffer.from(Array.from({ length: Math.min(size, 4096) }, () => between(0, 255))),
        between(1, 64) * 4096,
      ),
    },
    {
      name: 'an endless line (64-192 MiB, no newline)',
      // One chunk sent again and again: fresh garbage per chunk would measure the collector's pace.
      play: flood((size) => braces.subarray(0, size), between(64, 192) * MiB),
    },
    {
      name: 'huge JSON (8-32 MiB on one line)',
      play: (send) => {
        let at = 0;
        return flood((size) => hugeLine.subarray(at, (at += size)), hugeLine.length)(send);
      },
    },
    {
      name: 'deeply nested JSON within the line limit',
      expectAnswer: true,
      play: (send) => {
        const depth = between(1000, 7000);
        const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        send(
          Buffer.from(`\n{"stage":"ready","ready":true,"message":"x","details":{"nodeId":"${NODE}","n":${nested}}}\n`),
        );
        return () => undefined;
      },
    },
    {
      name: '__proto__ keys',
      expectAnswer: true,
      play: (send) => {
        send(
          Buffer.from(
            `\n{"__proto__":{"polluted":true},"stage":"ready","ready":true,"message":"x","details":{"nodeId":"${NODE}","__proto__":{"polluted":true}}}\n`,
          ),
        );
        return () => undefined;
      },
    },
    {
      name: 'a good line drip-fed a byte every 20 ms',
      play: (send) => {
        const bytes = line(good());
        let i = 0;
        const t = setInterval(() => (i < bytes.length ? send(bytes.subarray(i, ++i)) : clearInterval(t)), 20);
        return () => clearInterval(t);
      },
    },
    {
      name: 'the channel closes at once',
      play: (_send, end) => (end({ reason: pick(['eof', 'error']) } as ChannelEnd), () => undefined),
    },
  ];

  for (const round of [1, 2, 3]) {
    it(`round ${round}: every answer is a checked status of this node or a short, plain reason`, async () => {
      for (const c of cases()) {
        const channel = new StandInChannel();
        channel.play = c.play;
        const probe = new ChannelGuestProbe(channel, { firstLineWaitMs: 300, freshMs: 5000 });
        const run = await measured(async () => {
          const first = await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
          // Whatever is still streaming has its chance to pass through the reader too.
          await new Promise((r) => setTimeout(r, 200));
          const second = await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
          return [first, second] as ProbeResult[];
        });
        probe.forget(DOMAIN);
        channel.halt();
        for (const result of run.value) {
          if (result.answered) {
            expect({ case: c.name, answered: true }).toEqual({ case: c.name, answered: c.expectAnswer ?? false });
            expectSafe(result.status.message ?? '', 256);
          } else expectSafe(result.error, 300);
        }
        if (c.expectAnswer)
          expect({ case: c.name, answered: run.value[1].answered }).toEqual({ case: c.name, answered: true });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        // The reader keeps at most one line (16 KiB) of what it was sent.
        expect({ case: c.name, peakGrowthMiB: run.peakGrowthMiB < 64 }).toEqual({ case: c.name, peakGrowthMiB: true });
        expect({ case: c.name, ms: run.ms < 2000 }).toEqual({ case: c.name, ms: true });
        const last = run.value[1];
        figures.push(
          `status channel, round ${round}, ${c.name}: ${run.ms} ms, peak RSS +${run.peakGrowthMiB.toFixed(1)} MiB, ` +
            `${last.answered ? `answered (${last.status.stage})` : `"${last.error}"`}`,
        );
      }
    });
  }
});

describe(`a hostile control plane (seed ${SEED})`, () => {
  let server: Server;
  let port: number;
  let secrets: ClusterSecrets;
  let bomb: Buffer;
  let hugeAnswer: string;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  /** What the stand-in does with the next request. */
  let mode = 'redirect';
  /** Requests that reached a redirect's target (none may). */
  let followed = 0;

  const MODES = [
    'redirect',
    'gzip-bomb',
    'endless',
    'drip',
    'silent',
    'reset',
    'huge-json',
    'many-items',
    'wrong-shape',
    'nasty-error',
    'nasty-names',
  ] as const;

  beforeAll(async () => {
    secrets = await createClusterSecrets('hostile');
    const serving = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'api' },
      { server: true, ips: ['127.0.0.1'] },
    );
    // 64 MiB of zeros, 64 KiB compressed: a client that decodes it pays the 64 MiB.
    bomb = gzipSync(Buffer.alloc(64 * 2 ** 20), { level: 9 });
    hugeAnswer = JSON.stringify({
      members: Array.from({ length: 900 }, (_, i) => ({ ID: String(i + 1), name: `x${i}`, pad: 'y'.repeat(500) })),
      items: Array.from({ length: 900 }, (_, i) => ({
        metadata: { name: `p${i}`, namespace: 'default', annotations: { pad: 'z'.repeat(500) } },
      })),
    });
    expect(hugeAnswer.length).toBeGreaterThan(900000);
    expect(hugeAnswer.length).toBeLessThan(2 ** 20);
    server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      if (req.url?.startsWith('/elsewhere')) {
        followed++;
        return json(200, { members: [], items: [] });
      }
      const every = (ms: number, fn: () => void) => {
        const t = setInterval(fn, ms);
        timers.add(t);
        res.on('close', () => clearInterval(t));
      };
      switch (mode) {
        case 'redirect':
          res.writeHead(pick([301, 302, 303, 307, 308]), { location: `https://127.0.0.1:${port}/elsewhere` });
          return res.end();
        case 'gzip-bomb':
          res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
          return res.end(bomb);
        case 'endless': {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, 0x5b);
          const more = () => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', more);
          };
          return more();
        }
        case 'drip':
          res.writeHead(200, { 'content-type': 'application/json' });
          return every(between(50, 300), () => res.write(pick([' ', '{', '['])));
        case 'silent':
          return; // headers never come
        case 'reset':
          return req.socket.destroy();
        case 'huge-json':
          // Just under the answer cap, valid JSON of the right shape with big unknown fields:
          // parsed and used (etcd: the node is no member; drain: 900 pods to evict, each eviction
          // answered at once, until the leave's budget runs out).
          if (req.url?.endsWith('/eviction')) return json(201, {});
          return json(200, hugeAnswer);
        case 'many-items':
          return json(200, {
            members: Array.from({ length: 5000 }, (_, i) => ({ ID: String(i + 1), name: `m${i}` })),
            items: Array.from({ length: 5000 }, (_, i) => ({ metadata: { name: `p${i}`, namespace: 'default' } })),
          });
        case 'wrong-shape':
          return json(
            200,
            pick([
              'null',
              '"members"',
              '[1,2,3]',
              '{"members":{"ID":"1"}}',
              '{"members":[{"ID":{"toString":"x"}}]}',
              '{"items":[null]}',
              '{"items":[{"metadata":{"name":{"a":1},"namespace":"x"}}]}',
              '{"items":"all"}',
              '{"members":[{"ID":"12","name":"x","peerURLs":"https://a"}],"items":[{"metadata":[]}]}',
            ]),
          );
        case 'nasty-error':
          return json(between(400, 599), { message: nastyText(between(1000, 100000)), error: nastyText(50) });
        case 'nasty-names':
          return json(req.url?.includes('eviction') ? 429 : 200, {
            members: [
              { ID: '1', name: nastyText(40) },
              { ID: '2', name: nastyText(5000) },
            ],
            items: [{ metadata: { name: nastyText(30), namespace: nastyText(10) } }],
          });
      }
    });
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
  });
  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const leave = (method: LeaveRequest['method']): LeaveRequest => ({
    method,
    role: method === 'etcd-member-remove' ? 'master' : 'worker',
    nodeName: pick(['m0', 'w1']),
    nodeAddress: null,
    otherMasters: ['127.0.0.1'],
    port,
    tls: { caPem: secrets.caCertPem, certPem: secrets.adminCertPem, keyPem: secrets.adminKeyPem },
    timeoutMs: 1000,
    budgetMs: 2500,
  });

  it('every leave ends within its deadline, memory stays bounded, and the reason is short and plain', async () => {
    const plan = [...MODES, ...Array.from({ length: 8 }, () => pick(MODES))];
    const worst = { ms: 0, mib: 0 };
    for (const m of plan) {
      for (const method of ['etcd-member-remove', 'kubernetes-drain'] as const) {
        mode = m;
        const run = await measured(() =>
          leaveControlPlane(leave(method)).then(
            (r) => ({ ok: true as const, message: r.message }),
            (err: Error) => ({ ok: false as const, message: err.message }),
          ),
        );
        worst.ms = Math.max(worst.ms, run.ms);
        worst.mib = Math.max(worst.mib, run.peakGrowthMiB);
        // A hostile answer never counts as a successful leave, except where the stand-in's
        // list simply does not name the node (then there is nothing to remove).
        if (run.value.ok) expect(run.value.message).toMatch(/is not an etcd member|removed through|evicted/);
        expectSafe(run.value.message, 1000);
        expect({ mode: m, method, withinBudget: run.ms < 2500 + 1500 }).toEqual({
          mode: m,
          method,
          withinBudget: true,
        });
        // Each answer is read up to 1 MiB; what the process holds beyond that is garbage not yet
        // collected. A reader without the cap would hold the bomb's 64 MiB or the endless body.
        expect({ mode: m, method, boundedMemory: run.peakGrowthMiB < 128 }).toEqual({
          mode: m,
          method,
          boundedMemory: true,
        });
        figures.push(
          `control plane, ${m}, ${method}: ${run.ms} ms, peak RSS +${run.peakGrowthMiB.toFixed(1)} MiB, ` +
            `${run.value.ok ? 'done' : 'failed'}: "${run.value.message.slice(0, 160)}"`,
        );
      }
    }
    expect(followed).toBe(0);
    figures.push(`control plane, worst: ${worst.ms} ms, peak RSS +${worst.mib.toFixed(1)} MiB`);
  }, 120000);
});
