/**
 * Text that came from something a tenant controls (a guest's status line, a cluster's API answer)
 * on its way into events, conditions and logs: control characters (newlines, terminal escapes),
 * Unicode line separators and bidirectional overrides become spaces, runs of blanks one space,
 * and it is cut to `max` characters (an ellipsis marks the cut). What is left prints as one
 * harmless line, however hostile the input.
 */
export function untrustedText(text: string, max = 300): string {
  const clean = text
    // C0 and C1 controls, DEL, line and paragraph separators, bidi embeddings, overrides and isolates.
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (clean.length <= max) return clean;
  // Not inside a surrogate pair.
  let cut = max - 1;
  const code = clean.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${clean.slice(0, cut)}…`;
}
