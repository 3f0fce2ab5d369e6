import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ChannelCloser, type ChannelEnd, LibvirtConnection, type OpenChannelOptions } from '../libvirt/index.js';
import { findRepoRoot, loadLibvirtBinding } from '../libvirt/libvirt-binding.js';
import { LibvirtError } from '../libvirt/libvirt-error.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../libvirt/testing/libvirt-test-host.js';
import { GUEST_STATUS_CHANNEL } from '../xml/domain-xml.js';
import { libvirtNames } from '../xml/names.js';
import { ChannelGuestProbe, type GuestChannelSource } from './guest-status-channel.js';
import { LibvirtHostBackend } from './libvirt-host-backend.js';

const NODE = '6f1d2a8e-3b4c-4d5e-8f90-a1b2c3d4e5f6';
const OTHER = '11111111-2222-4333-8444-555555555555';
const DOMAIN = libvirtNames.domain(NODE);

interface FakeChannel {
  domainName: string;
  channelName: string;
  options: OpenChannelOptions | undefined;
  closed: boolean;
  send(text: string): void;
  end(end: ChannelEnd): void;
  lose(): void;
}

/** A libvirt connection's channels, played in memory; the test writes what the guest sends. */
class FakeChannels implements GuestChannelSource {
  readonly opened: FakeChannel[] = [];
  failNext: Error | undefined;
  gate: Promise<void> | undefined;

  async openChannel(
    domainName: string,
    channelName: string,
    onData: (chunk: Buffer) => void,
    onClose: (end: ChannelEnd) => void,
    options?: OpenChannelOptions,
  ): Promise<ChannelCloser> {
    if (this.gate) await this.gate;
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    let ended = false;
    const ch: FakeChannel = {
      domainName,
      channelName,
      options,
      closed: false,
      send: (text) => !ended && onData(Buffer.from(text)),
      end: (e) => {
        if (ended) return;
        ended = true;
        onClose(e);
      },
      lose: () => options?.onDataLost?.(),
    };
    this.opened.push(ch);
    return async () => {
      ch.closed = true;
      ch.end({ reason: 'closed' });
    };
  }

  last(): FakeChannel {
    const ch = this.opened.at(-1);
    if (!ch) throw new Error('no channel opened');
    return ch;
  }
}

const line = (over: Record<string, unknown> = {}) =>
  `${JSON.stringify({ stage: 'ready', ready: true, message: 'ok', details: { nodeId: NODE }, ...over })}\n`;

function setup(timings = { freshMs: 5000, firstLineWaitMs: 0 }) {
  const clock = { now: 1_000_000 };
  const channels = new FakeChannels();
  const probe = new ChannelGuestProbe(channels, timings, () => clock.now);
  return { clock, channels, probe };
}

describe('ChannelGuestProbe', () => {
  it('opens the status channel of the domain on the first probe and answers from the newest line', async () => {
    const { channels, probe } = setup();
    expect(await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })).toEqual({
      answered: false,
      error: 'no status line yet',
    });
    expect(channels.opened).toHaveLength(1);
    expect(channels.last()).toMatchObject({ domainName: DOMAIN, channelName: GUEST_STATUS_CHANNEL });
    expect(channels.last().options?.force).toBe(true);
    channels.last().send(line({ stage: 'installing', ready: false, message: 'installing' }));
    channels.last().send(line());
    expect(await probe.probe({ domainName: DOMAIN, address: '10.0.0.5', nodeId: NODE })).toEqual({
      answered: true,
      status: { stage: 'ready', ready: true, message: 'ok', details: { nodeId: NODE } },
    });
    expect(channels.opened).toHaveLength(1);
  });

  it('takes the node id from the domain name when the caller gives none', async () => {
    const { channels, probe } = setup();
    await probe.probe({ domainName: DOMAIN, address: null });
    channels.last().send(line());
    expect(await probe.probe({ domainName: DOMAIN, address: null })).toMatchObject({ answered: true });
    expect(await probe.probe({ domainName: 'vm-by-hand', address: null })).toEqual({
      answered: false,
      error: 'vm-by-hand names no node to check the answer against',
    });
  });

  it('a status naming another node is no answer', async () => {
    const { channels, probe } = setup();
    await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    channels.last().send(line({ details: { nodeId: OTHER } }));
    expect(await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })).toEqual({
      answered: false,
      error: `the guest's status names another node (${OTHER})`,
    });
  });

  it('a stale line is no answer; a fresh one answers again', async () => {
    const { clock, channels, probe } = setup();
    await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    channels.last().send(line());
    clock.now += 5001;
    expect(await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })).toEqual({
      answered: false,
      error: 'no status line for 5 s',
    });
    channels.last().send(line());
    expect(await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })).toMatchObject({ answered: true });
  });

  it('the newest line counts: an invalid, oversize or lost line after a good one is no answer', async () => {
    const { channels, probe } = setup();
    const ask = () => probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    await ask();
    const ch = channels.last();
    ch.send(line());
    ch.send(line({ ready: 'yes' }));
    expect(await ask()).toEqual({ answered: false, error: 'status without a boolean "ready"' });
    ch.send(line());
    ch.send(`{"stage":"ready","message":"${'x'.repeat(17000)}`);
    expect(await ask()).toEqual({ answered: false, error: 'status line longer than 16384 bytes' });
    ch.send('"}\n');
    expect(await ask()).toEqual({ answered: false, error: 'status line longer than 16384 bytes' });
    ch.send(line());
    expect(await ask()).toMatchObject({ answered: true });
    ch.send('{"stage":"rea');
    ch.lose();
    ch.send('dy"}\n');
    expect(await ask()).toEqual({
      answered: false,
      error: 'status data was dropped (the guest sent faster than it was read)',
    });
    ch.send(line());
    expect(await ask()).toMatchObject({ answered: true });
  });

  it('waits a moment for the first line of a channel it has just opened', async () => {
    const channels = new FakeChannels();
    const probe = new ChannelGuestProbe(channels, { freshMs: 5000, firstLineWaitMs: 2000 });
    const answer = probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    await new Promise((r) => setTimeout(r, 20));
    channels.last().send(line());
    const t0 = Date.now();
    expect(await answer).toMatchObject({ answered: true });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('concurrent first probes share one channel', async () => {
    const { channels, probe } = setup();
    let release = () => {};
    channels.gate = new Promise<void>((r) => (release = r));
    const answers = Promise.all([1, 2, 3].map(() => probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })));
    release();
    await answers;
    expect(channels.opened).toHaveLength(1);
  });

  it('reopens after the channel ended (the domain stopped and started again)', async () => {
    const { channels, probe } = setup();
    await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    channels.last().send(line());
    channels.last().end({ reason: 'eof' });
    expect(probe.openDomains).toEqual([]);
    expect(await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })).toEqual({
      answered: false,
      error: 'no status line yet',
    });
    expect(channels.opened).toHaveLength(2);
  });

  it('forget closes the reader; the next probe opens a new one and ignores what the old one read', async () => {
    const { channels, probe } = setup();
    await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    const first = channels.last();
    first.send(line());
    probe.forget(DOMAIN);
    expect(first.closed).toBe(true);
    expect(probe.openDomains).toEqual([]);
    expect(await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })).toMatchObject({ answered: false });
    expect(channels.opened).toHaveLength(2);
    probe.forget('not-open');
  });

  it('forget during the open closes the channel once it is open', async () => {
    const { channels, probe } = setup();
    let release = () => {};
    channels.gate = new Promise<void>((r) => (release = r));
    const answer = probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    probe.forget(DOMAIN);
    release();
    await answer;
    expect(channels.last().closed).toBe(true);
    expect(probe.openDomains).toEqual([]);
  });

  it('a closed connection ends every reader', async () => {
    const { channels, probe } = setup();
    await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    await probe.probe({ domainName: libvirtNames.domain(OTHER), address: null });
    expect(probe.openDomains).toHaveLength(2);
    for (const ch of channels.opened) ch.end({ reason: 'connection-closed' });
    expect(probe.openDomains).toEqual([]);
  });

  it('an open that fails is no answer, and is tried again on the next probe', async () => {
    const { channels, probe } = setup();
    channels.failNext = new LibvirtError(
      55,
      10,
      'Requested operation is not valid: domain is not running',
      'openChannel',
    );
    expect(await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE })).toEqual({
      answered: false,
      error:
        "cannot read the guest's status channel: openChannel: Requested operation is not valid: domain is not running",
    });
    expect(probe.openDomains).toEqual([]);
    await probe.probe({ domainName: DOMAIN, address: null, nodeId: NODE });
    expect(channels.opened).toHaveLength(1);
  });

  it('the guest image sends on the channel the domain XML declares', () => {
    const script = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'scripts', 'guest', 'rootfs', 'etc', 'kaas', 'status-channel'),
      'utf8',
    );
    expect(script).toContain(`NAME=${GUEST_STATUS_CHANNEL}\n`);
  });
});

/*
 * The same through the real binding and libvirt's remote driver, against the stand-in daemon
 * (native/libvirt/test/fake-remote-daemon.mjs) playing a guest that sends the content of
 * <dir>/<domain>.status every 20 ms, until <dir>/<domain>.stopped exists (end of file).
 */
describe('LibvirtHostBackend.probeGuest over a channel of the remote driver', () => {
  let host: LibvirtTestHost;
  let conn: LibvirtConnection;
  const daemonLog = async () => (await readFile(join(host.dir, 'channels.log'), 'utf8').catch(() => '')).trim();
  const until = async (what: string, check: () => Promise<boolean> | boolean) => {
    const deadline = Date.now() + 5000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  beforeEach(async () => {
    host = await createLibvirtTestHost();
    const daemon = join(findRepoRoot(import.meta.dirname), 'native', 'libvirt', 'test', 'fake-remote-daemon.mjs');
    const wrapper = join(host.dir, 'fake-libvirtd.sh');
    await writeFile(wrapper, `#!/bin/sh\nFAKE_LIBVIRTD_DIR='${host.dir}' exec '${process.execPath}' '${daemon}'\n`);
    await chmod(wrapper, 0o755);
    conn = await LibvirtConnection.open(`test+ext:///default?command=${wrapper}`);
  });

  afterEach(async () => {
    await conn.close();
    await host.cleanup();
    await until('the channels to be freed', () => loadLibvirtBinding().liveChannels() === 0);
  });

  it('answers from the line the guest sends, follows a stop, and closes readers with the connection', async () => {
    const backend = new LibvirtHostBackend(conn);
    await writeFile(join(host.dir, `${DOMAIN}.status`), line({ stage: 'joining', ready: false }));
    const first = await backend.probeGuest({ domainName: DOMAIN, address: null, nodeId: NODE });
    expect(first).toEqual({
      answered: true,
      status: { stage: 'joining', ready: false, message: 'ok', details: { nodeId: NODE } },
    });
    await writeFile(join(host.dir, `${DOMAIN}.status`), line());
    await until('the new status', async () => {
      const r = await backend.probeGuest({ domainName: DOMAIN, address: null, nodeId: NODE });
      return r.answered && r.status.ready;
    });
    expect(await backend.probeGuest({ domainName: DOMAIN, address: null, nodeId: OTHER })).toEqual({
      answered: false,
      error: `the guest's status names another node (${NODE})`,
    });

    // The domain stops: its channel reaches end of file and the next probe finds no guest line.
    await writeFile(join(host.dir, `${DOMAIN}.stopped`), '');
    await until('the finish', async () => (await daemonLog()).includes(`finish ${DOMAIN}`));
    expect(await backend.probeGuest({ domainName: DOMAIN, address: null, nodeId: NODE })).toEqual({
      answered: false,
      error: 'the status channel closed (eof)',
    });

    // A lifecycle event closes a reader too (here one of another node's domain).
    const other = libvirtNames.domain(OTHER);
    await writeFile(join(host.dir, `${other}.status`), line({ details: { nodeId: OTHER } }));
    expect(await backend.probeGuest({ domainName: other, address: null })).toMatchObject({ answered: true });
    backend.observeDomainEvent({ domainName: other, uuid: '', event: 'stopped', eventCode: 5, detail: 0 });
    await until('the abort', async () => (await daemonLog()).includes(`abort ${other}`));

    // And one still open when the connection closes is aborted by it.
    expect(await backend.probeGuest({ domainName: other, address: null })).toMatchObject({ answered: true });
    await conn.close();
    expect((await daemonLog()).split('\n').filter((l) => l === `abort ${other}`)).toHaveLength(2);
    expect((await daemonLog()).split('\n').filter((l) => l.startsWith('open '))).toHaveLength(4);
  });
});
