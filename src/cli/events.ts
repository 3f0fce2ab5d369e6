import { InvalidArgumentError, Option } from 'commander';
import type { Schemas } from '../api/client.js';
import type { ApiClient } from './api-client.js';

/** One event of the stream (`GET /v1/events/stream`): an event of the API, with its cluster. */
export type StreamEvent = Schemas['EventResponse'] & { clusterId: string };

/** Without a stream (not reachable, refused), waits ask again this often. */
export const POLL_MS = 1000;
/** With a stream, waits ask again at least this often (a change that makes no event). */
export const STREAM_FALLBACK_MS = 10_000;
/** How long a dropped stream waits before it reconnects. */
const RECONNECT_MS = 1000;
/** A line of the stream longer than this ends it (the platform's lines are a few hundred bytes). */
const MAX_LINE = 256 * 1024;

/**
 * The platform's event stream, read with fetch (Server-Sent Events): `next` resolves on the next
 * event, or after the time given. A dropped stream reconnects with `Last-Event-ID`; while there is
 * none, `live` is false and waits fall back to asking every second.
 */
export class EventStream {
  live = false;
  private readonly queue: StreamEvent[] = [];
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();
  private lastId: string | undefined;
  private closed = false;

  private constructor(
    private readonly client: ApiClient,
    private readonly clusterId: string | undefined,
  ) {}

  /** Opens the stream of one cluster's events (or of all the caller's clusters) and waits until it is up or refused. */
  static async open(client: ApiClient, clusterId?: string): Promise<EventStream> {
    const stream = new EventStream(client, clusterId);
    await stream.connect();
    return stream;
  }

  private async connect(): Promise<void> {
    let body: ReadableStream<Uint8Array> | null;
    try {
      body = await this.client.openStream(this.clusterId, this.lastId, this.abort.signal);
    } catch {
      this.retryLater();
      return;
    }
    this.live = true;
    void this.read(body).finally(() => {
      this.live = false;
      this.retryLater();
    });
  }

  private retryLater(): void {
    if (this.closed) return;
    const timer = setTimeout(() => void this.connect(), RECONNECT_MS);
    timer.unref?.();
  }

  private async read(body: ReadableStream<Uint8Array> | null): Promise<void> {
    if (!body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    let id: string | undefined;
    let data: string[] = [];
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (data.length) this.push(id, data.join('\n'));
            id = undefined;
            data = [];
          } else if (line.startsWith('id:')) id = line.slice(3).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          // comments (`: keepalive`) and other fields carry nothing for kaasctl
        }
        if (buffer.length > MAX_LINE) return;
      }
    } catch {
      // dropped or closed: `connect` takes it up again unless closed
    }
  }

  private push(id: string | undefined, data: string): void {
    let event: StreamEvent;
    try {
      event = JSON.parse(data) as StreamEvent;
    } catch {
      return;
    }
    if (id) this.lastId = id;
    this.queue.push({ ...event, id: id ?? event.id });
    this.wake?.();
  }

  /** The next event, or null when `ms` pass first. */
  async next(ms: number): Promise<StreamEvent | null> {
    if (!this.queue.length && ms > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
    return this.queue.shift() ?? null;
  }

  /** Waits for something to happen: an event, or the fallback interval (shorter without a stream). */
  async settle(leftMs: number): Promise<void> {
    await this.next(Math.min(this.live ? STREAM_FALLBACK_MS : POLL_MS, leftMs));
    // Several events of one change come together: one look at the result is enough.
    this.queue.length = 0;
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.wake?.();
  }
}

/** `--wait[=seconds]` with the default given. */
export function waitOption(description: string, defaultSeconds: number): Option {
  return new Option('--wait [seconds]', `${description}, for this many seconds at most`)
    .argParser((value: string) => {
      if (!/^\d+$/.test(value) || Number(value) < 1)
        throw new InvalidArgumentError(`--wait must be a whole number of seconds (at least 1), got "${value}"`);
      return Number(value);
    })
    .preset(String(defaultSeconds));
}

/** What a look at the resource found: done (with a failure or not), or a state to show while waiting. */
export type Progress<R> = { done: true; value: R; failure?: string } | { done: false; value: R; state: string };

/**
 * Looks at something (`look`) until it is done, after each event of the cluster's stream (or every
 * second without a stream, and at least every 10 s with one), for `seconds` at most. Each new
 * state goes to stderr as `<label>: <state>`, so stdout keeps what the command prints at the end.
 * Past the deadline it throws `timeout(value)`.
 */
export async function waitFor<R>(
  client: ApiClient,
  opts: {
    clusterId: string | undefined;
    seconds: number;
    label: string;
    look: () => Promise<Progress<R>>;
    timeout: (last: R) => string;
  },
): Promise<{ value: R; failure?: string }> {
  const deadline = Date.now() + opts.seconds * 1000;
  const events = await EventStream.open(client, opts.clusterId);
  try {
    let shown: string | undefined;
    for (;;) {
      const progress = await opts.look();
      if (progress.done) return { value: progress.value, failure: progress.failure };
      if (progress.state !== shown) {
        process.stderr.write(`${opts.label}: ${progress.state}\n`);
        shown = progress.state;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(opts.timeout(progress.value));
      await events.settle(left);
    }
  } finally {
    events.close();
  }
}
