// A view kept live by the event stream instead of by polling: it fetches what it shows again when
// an event of its clusters arrives, when the tab is shown again, and at a slow pace for what
// changes without an event (usage samples, heartbeats).
import { followEvents } from './event-stream.js';

/** Events this close together (a reconcile writes several at once) make one refresh. */
const COALESCE_MS = 250;
/** One more refresh this long after the last event: a reconcile may write status just after it. */
const SETTLE_MS = 2000;
/** At the latest this often while the stream is open. */
export const SAFETY_MS = 30000;
/** This often while the stream is down (reconnecting, or an API without it). */
export const FALLBACK_MS = 5000;
/** How long the first refresh waits for the stream to open, so that no event falls between them. */
const OPEN_WAIT_MS = 1500;
/** A tab hidden this long lets its stream go; showing it again opens one and refreshes. */
const HIDDEN_CLOSE_MS = 60000;

/**
 * Runs `refresh` once the stream is open (or could not be within OPEN_WAIT_MS), then as said
 * above; never while the tab is hidden, never two at once. `refresh` answers false to stop (the
 * stream is closed), or a number of ms to be run again within that long even without events.
 * `onState('live' | 'reconnecting' | 'closed')` follows the stream. Returns `{ first, stop }`:
 * `first` settles after the first refresh.
 */
export function followView({ api, clusterId, refresh, onState }) {
  let stopped = false;
  let running = false;
  let again = false;
  let live = false;
  let asked;
  let stream;
  const timers = { soon: undefined, settle: undefined, safety: undefined, hidden: undefined };

  function arm() {
    clearTimeout(timers.safety);
    if (!stopped) timers.safety = setTimeout(run, Math.min(live ? SAFETY_MS : FALLBACK_MS, asked ?? Infinity));
  }

  async function run() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timers.safety);
    clearTimeout(timers.soon);
    timers.soon = undefined;
    // A hidden tab asks nothing; it is refreshed when shown again.
    if (document.hidden) return;
    running = true;
    try {
      const answer = await refresh();
      if (answer === false) {
        stop();
        return;
      }
      asked = typeof answer === 'number' ? answer : undefined;
    } catch (err) {
      console.warn('refresh failed', err);
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      soon(false);
    }
    arm();
  }

  function soon(settle) {
    if (stopped) return;
    if (timers.soon === undefined) timers.soon = setTimeout(run, COALESCE_MS);
    if (settle) {
      clearTimeout(timers.settle);
      timers.settle = setTimeout(run, SETTLE_MS);
    }
  }

  /** Opens the stream; settles when it is open, has failed once, or after OPEN_WAIT_MS. */
  function connect() {
    let waiting = true;
    let opened;
    const first = new Promise((resolve) => (opened = resolve));
    const mine = followEvents(api, {
      clusterId,
      onEvent: () => soon(true),
      onState(state, { resumed }) {
        if (stream !== mine) return;
        // Opened afresh after the first refresh: events in between were not replayed.
        if (state === 'live' && !resumed && !waiting) soon(false);
        opened();
        onState?.(state);
        if ((state === 'live') !== live) {
          live = state === 'live';
          if (!running && timers.safety !== undefined) arm();
        }
      },
    });
    stream = mine;
    return Promise.race([first, new Promise((resolve) => setTimeout(resolve, OPEN_WAIT_MS))]).then(() => {
      waiting = false;
    });
  }

  function onVisibility() {
    if (document.hidden) {
      clearTimeout(timers.hidden);
      timers.hidden = setTimeout(() => {
        stream?.close();
        stream = undefined;
        live = false;
        onState?.('closed');
      }, HIDDEN_CLOSE_MS);
      return;
    }
    clearTimeout(timers.hidden);
    if (stream) run();
    else connect().then(run);
  }

  function stop() {
    stopped = true;
    stream?.close();
    stream = undefined;
    for (const timer of Object.values(timers)) clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  }

  document.addEventListener('visibilitychange', onVisibility);
  return { first: connect().then(run), stop };
}
