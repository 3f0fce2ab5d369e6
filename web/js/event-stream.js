// The events of the tenant's clusters as they happen, from GET /v1/events/stream. EventSource
// cannot send the Authorization header (nor X-Kaas-Tenant when the operator acts as a tenant), so
// the stream is read with fetch and parsed here; a dropped connection is opened again after a
// backoff, with Last-Event-ID so that it resumes after the last event it delivered.
import { ApiError } from './api.js';

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
/** A connection that stayed open this long was healthy: the next reconnect starts quick again. */
const HEALTHY_MS = 10000;

/**
 * The `text/event-stream` format, as the HTML standard parses it: lines end in CRLF, LF or CR;
 * a line starting with ":" is a comment; `data` lines join with "\n"; an empty line dispatches the
 * event; `id` sets the last event id, which stays for the events after it.
 */
export class SseParser {
  /** @param {(event: { id: string, type: string, data: string }) => void} onEvent */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.data = [];
    this.type = '';
    this.lastEventId = '';
    /** @type {number | undefined} the reconnection time the server asked for */
    this.retry = undefined;
  }

  /** Takes the next piece of decoded text; complete lines are acted on, the rest is kept. */
  push(text) {
    this.buffer += text;
    let at;
    while ((at = this.buffer.search(/[\r\n]/)) !== -1) {
      // A CR at the very end may be the first half of a CRLF split between two pieces.
      if (this.buffer[at] === '\r' && at === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + (this.buffer[at] === '\r' && this.buffer[at + 1] === '\n' ? 2 : 1));
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      if (this.data.length)
        this.onEvent({ id: this.lastEventId, type: this.type || 'message', data: this.data.join('\n') });
      this.data = [];
      this.type = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

/** Waits ms, or less when signal aborts. */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/**
 * Follows the events of the caller's clusters (of one cluster with `clusterId`) until `close()`.
 * `onEvent(event)` gets each event's JSON; `onState('live' | 'reconnecting' | 'closed', {resumed})`
 * says whether the stream is open (`resumed`: after Last-Event-ID, nothing was missed); after a
 * 401 the client has signed out and the stream stays closed.
 */
export function followEvents(api, { clusterId, onEvent, onState }) {
  const path = `/v1/events/stream${clusterId ? `?clusterId=${encodeURIComponent(clusterId)}` : ''}`;
  const stopping = new AbortController();
  let lastEventId;
  let delay = BACKOFF_MIN_MS;

  const once = async () => {
    const res = await api.stream(path, { lastEventId, signal: stopping.signal });
    const openedAt = Date.now();
    onState('live', { resumed: Boolean(lastEventId) });
    const parser = new SseParser((e) => {
      if (e.id) lastEventId = e.id;
      let event;
      try {
        event = JSON.parse(e.data);
      } catch {
        return;
      }
      onEvent(event);
    });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      // The server may ask for a reconnection time of its own (`retry:`).
      if (Date.now() - openedAt >= HEALTHY_MS)
        delay = Math.min(Math.max(parser.retry ?? BACKOFF_MIN_MS, BACKOFF_MIN_MS), BACKOFF_MAX_MS);
    }
  };

  (async () => {
    while (!stopping.signal.aborted) {
      try {
        await once();
      } catch (err) {
        if (stopping.signal.aborted) break;
        if (err instanceof ApiError && err.status === 401) break;
        // An id this stream no longer takes: start over from now (the view refreshes then).
        if (err instanceof ApiError && err.status === 400) lastEventId = undefined;
      }
      if (stopping.signal.aborted) break;
      onState('reconnecting', { resumed: false });
      // Jittered, so that the tabs a restarted API process dropped do not come back all at once.
      await sleep(delay * (0.75 + Math.random() / 2), stopping.signal);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
    onState('closed', { resumed: false });
  })();

  return {
    close() {
      stopping.abort();
    },
  };
}
