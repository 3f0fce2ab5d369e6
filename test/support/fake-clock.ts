import { jest } from '@jest/globals';

/**
 * Runs `start` on fake timers, a second at a time, until it ends or `maxSeconds` have passed, and
 * tells `waited` the fake milliseconds it took. Each step lets real I/O (a fake API's answers)
 * happen before the clock moves on; `--wait` commands look again every second without a stream.
 */
export async function onFakeClock<T>(
  start: () => Promise<T>,
  maxSeconds: number,
  waited: (ms: number) => void,
): Promise<T> {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'] });
  const startedAt = Date.now();
  let ended = false;
  const end = () => {
    ended = true;
    waited(Date.now() - startedAt);
  };
  const running = start();
  running.then(end, end);
  const settle = async () => {
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
  };
  for (let second = 0; second < maxSeconds && !ended; second++) {
    await settle();
    if (!ended) await jest.advanceTimersByTimeAsync(1000);
    await settle();
  }
  return running;
}
