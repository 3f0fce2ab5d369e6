import { untrustedText } from '../../common/untrusted-text.js';
import { GUEST_STAGES, type GuestStage, type GuestStatus } from './guest-status.js';

/** Longest status line taken from a guest, newline excluded; a longer one is no answer. */
export const MAX_STATUS_LINE_BYTES = 16 * 1024;
/** Longest `message` taken from a guest. */
export const MAX_STATUS_MESSAGE_LENGTH = 256;
/** Longest `details.nodeId` taken from a guest (platform ids are 36 characters). */
const MAX_NODE_ID_LENGTH = 128;

export type StatusLine = { ok: true; status: GuestStatus; nodeId: string } | { ok: false; error: string };

const STAGES: ReadonlySet<string> = new Set(GUEST_STAGES);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads one status line as a guest sends it: `{"stage", "ready", "message", "details":
 * {"nodeId", ...}}`. Whatever a guest writes is untrusted, so the shape is checked strictly and
 * anything else is reported as what is wrong with it (cut short, since it may echo the input).
 */
export function parseStatusLine(line: string): StatusLine {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    return { ok: false, error: 'status line is not JSON' };
  }
  if (!isPlainObject(body)) return { ok: false, error: 'status line is not a JSON object' };
  const { stage, ready, message, details } = body;
  if (typeof stage !== 'string' || !STAGES.has(stage))
    return { ok: false, error: `status with an unknown stage (${untrustedText(String(JSON.stringify(stage)), 40)})` };
  if (typeof ready !== 'boolean') return { ok: false, error: 'status without a boolean "ready"' };
  if (typeof message !== 'string') return { ok: false, error: 'status without a string "message"' };
  if (!isPlainObject(details)) return { ok: false, error: 'status without a "details" object' };
  const nodeId = details['nodeId'];
  if (typeof nodeId !== 'string' || nodeId === '' || nodeId.length > MAX_NODE_ID_LENGTH)
    return { ok: false, error: 'status without a node id in "details.nodeId"' };
  // A long message (a bundle quoting a tool's output) still carries a good status: it is cut to
  // what events and conditions keep, instead of costing the node its answer, and made one plain
  // line (no newlines or terminal escapes reach an event).
  const short = untrustedText(message, MAX_STATUS_MESSAGE_LENGTH);
  return { ok: true, status: { stage: stage as GuestStage, ready, message: short, details }, nodeId };
}

/**
 * Cuts a byte stream into lines of at most `maxLineBytes`. A longer line is dropped as a whole
 * (reported once, when it passes the limit, then skipped up to its newline); so is the line in
 * progress when data was lost (`dataLost`). Empty lines are skipped: the guest sends one before
 * each status line to learn that the host is listening. Only the last complete line of a chunk
 * is handed on, since only the newest status counts: a chatty guest costs one parse per chunk.
 */
export class StatusLineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Inside a line that is being dropped, up to its newline. */
  private skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onDropped: (why: string) => void,
    private readonly maxLineBytes = MAX_STATUS_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    let last: string | undefined;
    let droppedAfterLast: string | undefined;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (this.partBytes + piece.length > this.maxLineBytes) {
        this.clear();
        droppedAfterLast = this.tooLong();
        continue;
      }
      const bytes = this.partBytes === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.clear();
      const line = bytes.toString('utf8').replace(/\r$/, '');
      if (line.trim() === '') continue;
      last = line;
      droppedAfterLast = undefined;
    }
    const rest = chunk.subarray(start);
    if (!this.skipping && rest.length > 0) {
      if (this.partBytes + rest.length > this.maxLineBytes) {
        this.clear();
        this.skipping = true;
        droppedAfterLast = this.tooLong();
      } else {
        this.parts.push(rest);
        this.partBytes += rest.length;
      }
    }
    if (last !== undefined && droppedAfterLast === undefined) this.onLine(last);
    else if (droppedAfterLast !== undefined) this.onDropped(droppedAfterLast);
  }

  /** Bytes were lost before the next chunk: the line in progress cannot be trusted. */
  dataLost(): void {
    this.clear();
    this.skipping = true;
    this.onDropped('status data was dropped (the guest sent faster than it was read)');
  }

  private tooLong(): string {
    return `status line longer than ${this.maxLineBytes} bytes`;
  }

  private clear(): void {
    this.parts = [];
    this.partBytes = 0;
  }
}
