import { randomUUID } from 'node:crypto';
import type { Answer } from './test-app.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Why an answer is worth retrying: the platform may not have done it, or is busy with it. */
function retryable(a: Answer): boolean {
  if (a.status >= 500) return true;
  // The same Idempotency-Key is still being worked on (or its first attempt died with the API).
  const message = (a.body as { message?: string } | undefined)?.message ?? '';
  return a.status === 409 && /still in progress/.test(message);
}

/**
 * What a careful API client does: every write carries an Idempotency-Key that stays the same
 * across its retries; connection errors, 5xx answers and "still in progress" are retried with
 * backoff until a deadline. Each call answers with its final status and body.
 */
export class RetryingClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    private readonly deadlineMs = 60000,
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call<T = any>(method: string, path: string, body?: unknown): Promise<Answer<T> & { attempts: number }> {
    const key = method === 'GET' ? undefined : randomUUID();
    const deadline = Date.now() + this.deadlineMs;
    let last: string;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(key ? { 'idempotency-key': key } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(20000),
        });
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: keep the text
        }
        const answer = { status: res.status, body: parsed as T, headers: res.headers, attempts: attempt };
        if (!retryable(answer as Answer)) return answer;
        last = `${res.status} ${text.slice(0, 200)}`;
      } catch (err) {
        last = (err as Error).cause ? String((err as Error).cause) : (err as Error).message;
      }
      if (Date.now() > deadline) {
        throw new Error(`${method} ${path}: no final answer after ${attempt} attempts; last: ${last}`);
      }
      await sleep(Math.min(1000, 100 * attempt));
    }
  }
}
