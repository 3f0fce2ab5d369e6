/**
 * OVSDB (RFC 7047) puts JSON-RPC messages on the stream back to back with no delimiter, so a
 * message ends where its outermost object closes. The splitter tracks nesting and string state
 * byte by byte: the structural characters (`{ } [ ] " \`) are ASCII and never occur inside a
 * multi-byte UTF-8 sequence, so scanning bytes is safe and a character split across two chunks
 * is only decoded once its message is whole.
 */

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

export class JsonStreamError extends Error {
  override readonly name = 'JsonStreamError';

  constructor(
    readonly reason: 'too-large' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

export class JsonStreamSplitter {
  /** Pieces of the message being read, kept as slices so a large message is copied once. */
  private pieces: Buffer[] = [];
  private size = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private failed: JsonStreamError | undefined;

  constructor(private readonly maxMessageBytes: number) {
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 2) {
      throw new RangeError(`maxMessageBytes must be an integer of at least 2, not ${maxMessageBytes}`);
    }
  }

  /**
   * Feeds one chunk and returns the complete messages it finished, parsed. Throws a
   * JsonStreamError when the stream cannot be valid OVSDB; the splitter then stays failed,
   * because nothing after a framing error can be trusted.
   */
  push(chunk: Buffer): unknown[] {
    if (this.failed) throw this.failed;
    try {
      return this.scan(chunk);
    } catch (err) {
      if (err instanceof JsonStreamError) {
        this.failed = err;
        this.pieces = [];
      }
      throw err;
    }
  }

  /** Bytes held for a message not yet complete. */
  get bufferedBytes(): number {
    return this.size;
  }

  private scan(chunk: Buffer): unknown[] {
    const messages: unknown[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.depth === 0) {
        if (isJsonWhitespace(byte)) {
          start = i + 1;
          continue;
        }
        // JSON-RPC messages are objects; anything else between them means we lost the framing.
        if (byte !== OPEN_BRACE) {
          throw new JsonStreamError('malformed', `expected '{' to start a message, got ${describeByte(byte)}`);
        }
        start = i;
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          this.append(chunk.subarray(start, i + 1));
          messages.push(this.parseHeld());
          start = i + 1;
        }
      }
    }
    // Copy what is kept: the socket may reuse the chunk's memory once the data event returns.
    if (this.depth > 0) this.append(Buffer.from(chunk.subarray(start)));
    return messages;
  }

  private append(piece: Buffer): void {
    this.size += piece.length;
    if (this.size > this.maxMessageBytes) {
      throw new JsonStreamError(
        'too-large',
        `message exceeds the limit of ${this.maxMessageBytes} bytes (${this.size} bytes read so far)`,
      );
    }
    this.pieces.push(piece);
  }

  private parseHeld(): unknown {
    const text = (this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.size)).toString('utf8');
    this.pieces = [];
    this.size = 0;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new JsonStreamError('malformed', `message is not valid JSON: ${(err as Error).message}`);
    }
  }
}

function describeByte(byte: number): string {
  return byte >= 0x20 && byte < 0x7f
    ? `'${String.fromCharCode(byte)}'`
    : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
