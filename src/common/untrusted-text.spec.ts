import { untrustedText } from './untrusted-text.js';

describe('untrustedText', () => {
  it('makes one plain line of newlines, terminal escapes and bidi overrides', () => {
    expect(untrustedText('ok\nFAKE EVENT\r\n\u001b[31mred\u001b[0m \u202eevil\u2028x\u0000')).toBe(
      'ok FAKE EVENT [31mred [0m evil x',
    );
  });

  it('cuts to the limit with an ellipsis, never inside a surrogate pair', () => {
    expect(untrustedText('a'.repeat(1000), 10)).toBe(`${'a'.repeat(9)}…`);
    const cut = untrustedText(`${'a'.repeat(8)}😀😀😀`, 10);
    expect(cut.length).toBeLessThanOrEqual(10);
    expect(cut).toBe(`${'a'.repeat(8)}…`);
    expect(untrustedText('short')).toBe('short');
  });
});
