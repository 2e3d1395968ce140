import { backoffDelay, retryUntil, sleep } from '../../../src/retry/backoff';

describe('backoffDelay', () => {
  it('doubles from the initial delay and stays within [half, full] of it', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(4, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(4, 100, 10_000, () => 0)).toBe(400);
  });

  it('is capped, also for huge attempt numbers', () => {
    expect(backoffDelay(50, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffDelay(10_000, 100, 5_000, () => 0.5)).toBe(3_750);
  });

  it('jitters', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(5, 100, 10_000)));
    expect(delays.size).toBeGreaterThan(1);
  });
});

describe('sleep', () => {
  it('ends early when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await sleep(10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('retryUntil', () => {
  const options = (overrides: Partial<Parameters<typeof retryUntil>[1]> = {}) => ({
    deadline: Date.now() + 5_000,
    initialMs: 1,
    maxMs: 5,
    signal: new AbortController().signal,
    retriable: () => true,
    onRetry: () => undefined,
    ...overrides,
  });

  it('retries retriable failures until one succeeds, telling about each', async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await retryUntil(
      () => (++calls < 3 ? Promise.reject(new Error('down')) : Promise.resolve('up')),
      options({ onRetry: (_err, attempt) => retries.push(attempt) }),
    );
    expect(result).toBe('up');
    expect(retries).toEqual([1, 2]);
  });

  it('rethrows at once what is not retriable, and the last failure after the deadline', async () => {
    await expect(
      retryUntil(
        () => Promise.reject(new Error('bad password')),
        options({ retriable: () => false }),
      ),
    ).rejects.toThrow('bad password');
    let calls = 0;
    await expect(
      retryUntil(
        () => Promise.reject(new Error(`down ${++calls}`)),
        options({ deadline: Date.now() + 30 }),
      ),
    ).rejects.toThrow(/down \d+/);
    expect(calls).toBeGreaterThan(1);
  });

  it('resolves with undefined when stopped while waiting', async () => {
    const controller = new AbortController();
    const pending = retryUntil(
      () => Promise.reject(new Error('down')),
      options({ initialMs: 10_000, maxMs: 10_000, signal: controller.signal }),
    );
    setTimeout(() => controller.abort(), 20);
    await expect(pending).resolves.toBeUndefined();
  });
});
