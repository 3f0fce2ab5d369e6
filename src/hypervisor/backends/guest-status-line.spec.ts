import { describe, expect, it } from '@jest/globals';
import {
  MAX_STATUS_LINE_BYTES,
  MAX_STATUS_MESSAGE_LENGTH,
  parseStatusLine,
  StatusLineSplitter,
} from './guest-status-line.js';

const NODE = '0b0c1c52-2d1f-4a83-9a55-1f1f2b7d1a10';
const good = { stage: 'ready', ready: true, message: 'etcd healthy', details: { nodeId: NODE, members: 3 } };

describe('parseStatusLine', () => {
  it('cuts a long message to what is kept, and keeps the status', () => {
    const parsed = parseStatusLine(JSON.stringify({ ...good, message: 'm'.repeat(5000) }));
    expect(parsed).toMatchObject({ ok: true });
    if (parsed.ok) expect(parsed.status.message).toHaveLength(MAX_STATUS_MESSAGE_LENGTH);
  });

  it('takes a well-formed status with the node it names', () => {
    expect(parseStatusLine(JSON.stringify(good))).toEqual({
      ok: true,
      status: { stage: 'ready', ready: true, message: 'etcd healthy', details: { nodeId: NODE, members: 3 } },
      nodeId: NODE,
    });
    for (const stage of ['booting', 'network-up', 'installing', 'joining', 'failed'])
      expect(parseStatusLine(JSON.stringify({ ...good, stage, ready: false }))).toMatchObject({ ok: true });
  });

  it.each([
    ['not JSON', '{"stage":"ready",', 'status line is not JSON'],
    ['an array', '[1,2]', 'status line is not a JSON object'],
    ['null', 'null', 'status line is not a JSON object'],
    ['a string', '"ready"', 'status line is not a JSON object'],
    ['an unknown stage', JSON.stringify({ ...good, stage: 'owned' }), 'status with an unknown stage ("owned")'],
    ['a stage of another type', JSON.stringify({ ...good, stage: 1 }), 'status with an unknown stage (1)'],
    ['no stage', JSON.stringify({ ...good, stage: undefined }), 'status with an unknown stage (undefined)'],
    ['ready as a string', JSON.stringify({ ...good, ready: 'true' }), 'status without a boolean "ready"'],
    ['ready missing', JSON.stringify({ ...good, ready: undefined }), 'status without a boolean "ready"'],
    ['message as a number', JSON.stringify({ ...good, message: 5 }), 'status without a string "message"'],
    ['message missing', JSON.stringify({ ...good, message: undefined }), 'status without a string "message"'],
    ['details missing', JSON.stringify({ ...good, details: undefined }), 'status without a "details" object'],
    ['details as an array', JSON.stringify({ ...good, details: [NODE] }), 'status without a "details" object'],
    ['no node id', JSON.stringify({ ...good, details: {} }), 'status without a node id in "details.nodeId"'],
    [
      'an empty node id',
      JSON.stringify({ ...good, details: { nodeId: '' } }),
      'status without a node id in "details.nodeId"',
    ],
    [
      'a numeric node id',
      JSON.stringify({ ...good, details: { nodeId: 7 } }),
      'status without a node id in "details.nodeId"',
    ],
    [
      'a huge node id',
      JSON.stringify({ ...good, details: { nodeId: 'n'.repeat(200) } }),
      'status without a node id in "details.nodeId"',
    ],
  ])('refuses %s', (_what, line, error) => {
    expect(parseStatusLine(line)).toEqual({ ok: false, error });
  });

  it('cuts what it echoes of a hostile stage short', () => {
    const r = parseStatusLine(JSON.stringify({ ...good, stage: 'x'.repeat(5000) }));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.length).toBeLessThan(100);
  });

  it('is not confused by __proto__ keys', () => {
    const r = parseStatusLine(
      `{"__proto__":{"ready":true},"stage":"ready","message":"m","details":{"nodeId":"${NODE}"}}`,
    );
    expect(r).toEqual({ ok: false, error: 'status without a boolean "ready"' });
  });
});

describe('StatusLineSplitter', () => {
  function splitter(max = MAX_STATUS_LINE_BYTES) {
    const events: string[] = [];
    const s = new StatusLineSplitter(
      (line) => events.push(`line:${line}`),
      (why) => events.push(`dropped:${why}`),
      max,
    );
    return { s, events, push: (text: string) => s.push(Buffer.from(text)) };
  }

  it('joins a line split across chunks, and hands on only complete lines', () => {
    const { push, events } = splitter();
    push('{"a":');
    push('1');
    expect(events).toEqual([]);
    push('}\n{"b"');
    expect(events).toEqual(['line:{"a":1}']);
    push(':2}\n');
    expect(events).toEqual(['line:{"a":1}', 'line:{"b":2}']);
  });

  it('hands on only the newest of several lines in one chunk, and skips empty lines and CRs', () => {
    const { push, events } = splitter();
    push('one\ntwo\r\n\n\nthree\r\n\n');
    expect(events).toEqual(['line:three']);
    push('\n\n');
    expect(events).toEqual(['line:three']);
  });

  it('splits multi-byte characters across chunks without damage', () => {
    const { s, events } = splitter();
    const bytes = Buffer.from('ÿé€\n');
    s.push(bytes.subarray(0, 3));
    s.push(bytes.subarray(3));
    expect(events).toEqual(['line:ÿé€']);
  });

  it('drops an oversize line once, whether it ends in the chunk or spreads over many, and resumes after it', () => {
    const { push, events } = splitter(10);
    push('0123456789\n');
    expect(events).toEqual(['line:0123456789']);
    push('0123456789X\nok\n');
    expect(events).toEqual(['line:0123456789', 'line:ok']);
    events.length = 0;
    push('0123456789X\n');
    expect(events).toEqual(['dropped:status line longer than 10 bytes']);
    events.length = 0;
    push('01234');
    push('56789');
    push('ABCDE');
    push('FGHIJ');
    push('tail\nnext\n');
    expect(events).toEqual(['dropped:status line longer than 10 bytes', 'line:next']);
  });

  it('a valid line followed by an oversize one in the same chunk leaves the oversize one as the newest', () => {
    const { push, events } = splitter(10);
    push('good\n0123456789ABC');
    expect(events).toEqual(['dropped:status line longer than 10 bytes']);
  });

  it('bounds what it holds while a line grows', () => {
    const { s, events } = splitter(1024);
    for (let i = 0; i < 1000; i++) s.push(Buffer.alloc(4096, 0x61));
    expect(events).toEqual(['dropped:status line longer than 1024 bytes']);
    expect((s as unknown as { partBytes: number }).partBytes).toBe(0);
  });

  it('after lost data, skips the rest of the line in progress', () => {
    const { s, push, events } = splitter();
    push('{"partial":');
    s.dataLost();
    push('"tail"}\n{"whole":1}\n');
    expect(events).toEqual([
      'dropped:status data was dropped (the guest sent faster than it was read)',
      'line:{"whole":1}',
    ]);
  });
});
