import { describe, expect, it } from '@jest/globals';
import { JsonStreamError, JsonStreamSplitter } from './json-stream-splitter.js';

const MiB = 1024 * 1024;

function feed(splitter: JsonStreamSplitter, ...chunks: (string | Buffer)[]): unknown[] {
  return chunks.flatMap((c) => splitter.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : c));
}

describe('JsonStreamSplitter', () => {
  it('splits back-to-back objects, with or without whitespace between them', () => {
    const splitter = new JsonStreamSplitter(MiB);
    expect(feed(splitter, '{"id":1}{"id":2} \n\t{"id":3}\r\n')).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(splitter.bufferedBytes).toBe(0);
  });

  it('holds a partial message until it is complete', () => {
    const splitter = new JsonStreamSplitter(MiB);
    expect(feed(splitter, '{"id":1,"result":[1,')).toEqual([]);
    expect(splitter.bufferedBytes).toBe(20);
    expect(feed(splitter, '2]}{"id"')).toEqual([{ id: 1, result: [1, 2] }]);
    expect(feed(splitter, ':2}')).toEqual([{ id: 2 }]);
  });

  // Braces and brackets in strings, escaped quotes, a string ending in a backslash, a
  // multi-byte character: split at every byte, the result must not change.
  const tricky = {
    id: 7,
    result: [{ details: 'a "}{" b ] [ \\"', path: 'C:\\', text: 'naïve ✓ 🚀', nested: { a: [[{}], []] } }],
    error: null,
  };
  const trickyBytes = Buffer.from(`${JSON.stringify(tricky)}${JSON.stringify({ id: 8 })}`, 'utf8');

  it('finds the same messages wherever the stream is cut', () => {
    for (let cut = 1; cut < trickyBytes.length; cut++) {
      const splitter = new JsonStreamSplitter(MiB);
      const messages = feed(splitter, trickyBytes.subarray(0, cut), trickyBytes.subarray(cut));
      expect({ cut, messages }).toEqual({ cut, messages: [tricky, { id: 8 }] });
    }
  });

  it('finds the same messages when fed one byte at a time', () => {
    const splitter = new JsonStreamSplitter(MiB);
    const messages = [...trickyBytes].flatMap((b) => splitter.push(Buffer.from([b])));
    expect(messages).toEqual([tricky, { id: 8 }]);
  });

  it('keeps the bytes it holds even when the chunk memory is reused', () => {
    const splitter = new JsonStreamSplitter(MiB);
    const chunk = Buffer.from('{"id":"abc"', 'utf8');
    expect(splitter.push(chunk)).toEqual([]);
    chunk.fill(0x20);
    expect(feed(splitter, '}')).toEqual([{ id: 'abc' }]);
  });

  it('refuses a message over the limit while it is still arriving, and stays failed', () => {
    const splitter = new JsonStreamSplitter(64);
    expect(feed(splitter, '{"result":"', 'x'.repeat(40))).toEqual([]);
    let caught: unknown;
    try {
      feed(splitter, 'x'.repeat(40));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(JsonStreamError);
    expect(caught).toMatchObject({ reason: 'too-large', message: expect.stringMatching(/limit of 64 bytes/) });
    expect(() => feed(splitter, '"}')).toThrow(JsonStreamError);
  });

  it('refuses an over-limit message that arrives in one chunk, but accepts one exactly at the limit', () => {
    const atLimit = `{"r":"${'y'.repeat(56)}"}`;
    expect(Buffer.byteLength(atLimit)).toBe(64);
    expect(feed(new JsonStreamSplitter(64), atLimit)).toEqual([{ r: 'y'.repeat(56) }]);
    expect(() => feed(new JsonStreamSplitter(64), `{"r":"${'y'.repeat(57)}"}`)).toThrow(/exceeds the limit/);
  });

  it('counts only the current message against the limit', () => {
    const splitter = new JsonStreamSplitter(32);
    const many = Array.from({ length: 100 }, (_, i) => `{"id":${i}}`).join('');
    expect(feed(splitter, many)).toHaveLength(100);
  });

  it.each([
    ['a value that is not an object', '[1,2]', /expected '\{'/],
    ['garbage between messages', '{"id":1}x', /got 'x'/],
    ['a control byte', '\u0001', /byte 0x01/],
    ['mismatched brackets', '{"a":[1}}', /not valid JSON/],
    ['a bare word inside an object', '{"a":nope}', /not valid JSON/],
  ])('refuses %s', (_label, text, problem) => {
    let caught: unknown;
    try {
      feed(new JsonStreamSplitter(MiB), text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(JsonStreamError);
    expect((caught as JsonStreamError).reason).toBe('malformed');
    expect((caught as Error).message).toMatch(problem);
  });

  it('refuses a limit too small to hold any message', () => {
    expect(() => new JsonStreamSplitter(1)).toThrow(RangeError);
  });
});
