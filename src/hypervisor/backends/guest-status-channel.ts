import { untrustedText } from '../../common/untrusted-text.js';
import type { ChannelCloser, ChannelEnd, OpenChannelOptions } from '../libvirt/index.js';
import { GUEST_STATUS_CHANNEL } from '../xml/domain-xml.js';
import { ownerOf } from '../xml/names.js';
import type { GuestProbe, GuestProbeTarget, ProbeResult } from './guest-status.js';
import { parseStatusLine, type StatusLine, StatusLineSplitter } from './guest-status-line.js';

/** The part of a libvirt connection that reads a domain's channel (LibvirtConnection has it). */
export interface GuestChannelSource {
  openChannel(
    domainName: string,
    channelName: string,
    onData: (chunk: Buffer) => void,
    onClose: (end: ChannelEnd) => void,
    options?: OpenChannelOptions,
  ): Promise<ChannelCloser>;
}

export interface ChannelProbeTimings {
  /** A status line older than this is no answer: the guest sends one every second. */
  freshMs: number;
  /** How long a probe waits for the first line of a channel it has just opened. */
  firstLineWaitMs: number;
}

const DEFAULT_TIMINGS: ChannelProbeTimings = { freshMs: 5000, firstLineWaitMs: 1500 };

/** One open status channel and the newest thing read from it. */
class StatusReader {
  latest: { at: number; line: StatusLine } | undefined;
  ended: ChannelEnd | undefined;
  closer: ChannelCloser | undefined;
  closeRequested = false;
  readonly splitter: StatusLineSplitter;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly domainName: string,
    readonly openedAt: number,
    private readonly now: () => number,
  ) {
    this.splitter = new StatusLineSplitter(
      (line) => this.record(parseStatusLine(line)),
      (error) => this.record({ ok: false, error }),
    );
  }

  record(line: StatusLine): void {
    this.latest = { at: this.now(), line };
    this.wake();
  }

  end(end: ChannelEnd): void {
    this.ended = end;
    this.wake();
  }

  close(): void {
    if (this.closer) void this.closer().catch(() => undefined);
    else this.closeRequested = true;
  }

  /** Resolves on the next line or end, or after `ms`. */
  async settle(ms: number): Promise<void> {
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * Asks real guests how they are by reading the status lines they send over their virtio-serial
 * channel (`GUEST_STATUS_CHANNEL`), through libvirt, so it works wherever libvirt reaches the
 * host and never touches a guest address. One reader per running domain, opened on its first
 * probe and kept open: the guest sends a line every second, and a probe answers from the newest
 * one if it is fresh. A reader goes away when its stream ends (the domain stopped), when the
 * domain is forgotten (stopped, restarted, removed) and when the connection closes; the next
 * probe opens a new one.
 */
export class ChannelGuestProbe implements GuestProbe {
  private readonly readers = new Map<string, { reader: StatusReader; opened: Promise<StatusReader> }>();
  private readonly timings: ChannelProbeTimings;

  constructor(
    private readonly source: GuestChannelSource,
    timings: Partial<ChannelProbeTimings> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.timings = { ...DEFAULT_TIMINGS, ...timings };
  }

  /** Domains with a reader (open or opening). */
  get openDomains(): string[] {
    return [...this.readers.keys()];
  }

  async probe(target: GuestProbeTarget): Promise<ProbeResult> {
    const nodeId = target.nodeId ?? ownerOf.domain(target.domainName);
    if (!nodeId) return { answered: false, error: `${target.domainName} names no node to check the answer against` };
    let reader: StatusReader;
    try {
      reader = await this.readerOf(target.domainName);
    } catch (err) {
      return { answered: false, error: `cannot read the guest's status channel: ${(err as Error).message}` };
    }
    if (!reader.latest && !reader.ended)
      await reader.settle(reader.openedAt + this.timings.firstLineWaitMs - this.now());
    return this.answer(reader, nodeId);
  }

  forget(domainName: string): void {
    const entry = this.readers.get(domainName);
    if (!entry) return;
    this.readers.delete(domainName);
    entry.reader.close();
  }

  private answer(reader: StatusReader, nodeId: string): ProbeResult {
    const latest = reader.latest;
    if (!latest) {
      const why = reader.ended ? `the status channel closed (${reader.ended.reason})` : 'no status line yet';
      return { answered: false, error: why };
    }
    const age = this.now() - latest.at;
    if (age > this.timings.freshMs) return { answered: false, error: `no status line for ${Math.round(age / 1000)} s` };
    const line = latest.line;
    if (!line.ok) return { answered: false, error: line.error };
    if (line.nodeId !== nodeId)
      return { answered: false, error: `the guest's status names another node (${untrustedText(line.nodeId, 64)})` };
    return { answered: true, status: line.status };
  }

  private readerOf(domainName: string): Promise<StatusReader> {
    const existing = this.readers.get(domainName);
    if (existing) return existing.opened;
    const reader = new StatusReader(domainName, this.now(), this.now);
    const opened = this.source
      .openChannel(
        domainName,
        GUEST_STATUS_CHANNEL,
        (chunk) => reader.splitter.push(chunk),
        (end) => {
          reader.end(end);
          if (this.readers.get(domainName)?.reader === reader) this.readers.delete(domainName);
        },
        // Another session on the channel (a crashed worker's, say) would otherwise lock it.
        { force: true, onDataLost: () => reader.splitter.dataLost() },
      )
      .then(
        (closer) => {
          reader.closer = closer;
          if (reader.closeRequested) reader.close();
          return reader;
        },
        (err: unknown) => {
          if (this.readers.get(domainName)?.reader === reader) this.readers.delete(domainName);
          throw err;
        },
      );
    this.readers.set(domainName, { reader, opened });
    return opened;
  }
}
