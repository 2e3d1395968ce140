import { backoffDelay, sleep } from '../../../src/retry/backoff';

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
