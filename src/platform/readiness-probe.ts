/** A readiness check: resolves when its part is up; its (or its error's `counts`) numbers are shown. */
export type ReadinessCheck = () => Promise<unknown>;

export interface ReadinessAnswer {
  ok: boolean;
  body: { status: 'ready' | 'not ready'; checks: Record<string, { ok: boolean; [count: string]: number | boolean }> };
}

/** How long one check may take before it counts as down. */
const CHECK_TIMEOUT_MS = 2000;

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Only numbers from what a readiness check returns: nothing that names anything. */
function counts(extra: unknown): Record<string, number> {
  if (!extra || typeof extra !== 'object') return {};
  return Object.fromEntries(Object.entries(extra).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

/**
 * Runs the checks at once, each within 2 s. The answer is for an open route: whether each part
 * is up, with counts, and no tenant, host name or error text (those are in the logs and the API).
 */
export async function probeReadiness(checks: [string, ReadinessCheck][]): Promise<ReadinessAnswer> {
  const results: ReadinessAnswer['body']['checks'] = {};
  await Promise.all(
    checks.map(async ([name, check]) => {
      try {
        results[name] = { ok: true, ...counts(await within(CHECK_TIMEOUT_MS, check())) };
      } catch (err) {
        results[name] = { ok: false, ...counts((err as { counts?: unknown } | undefined)?.counts) };
      }
    }),
  );
  const ok = Object.values(results).every((c) => c.ok);
  return { ok, body: { status: ok ? 'ready' : 'not ready', checks: results } };
}
