/**
 * Capped exponential backoff with full jitter: attempt n (1-based) waits a random time in
 * [delay/2, delay], delay = min(initial * 2^(n-1), max). Jitter keeps many relays (or many retries)
 * from hammering a recovering broker in lockstep.
 */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponential = initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  const capped = Math.min(exponential, maxMs);
  return Math.round(capped / 2 + (random() * capped) / 2);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RetryUntilOptions {
  /** Give up (rethrow the last error) once this time (ms since the epoch) has passed. */
  deadline: number;
  initialMs: number;
  maxMs: number;
  /** Aborting stops waiting; the call then resolves with undefined. */
  signal: AbortSignal;
  /** Whether a failure may clear by itself; others are rethrown at once. */
  retriable(err: unknown): boolean;
  /** Told before each wait. */
  onRetry(err: unknown, attempt: number, delayMs: number): void;
}

/**
 * Calls `fn` until it succeeds, retrying retriable failures with backoff until the deadline, then
 * rethrows the last failure. Resolves with undefined if `signal` aborts while waiting.
 */
export async function retryUntil<T>(
  fn: () => Promise<T>,
  options: RetryUntilOptions,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!options.retriable(err) || Date.now() >= options.deadline) throw err;
      const delayMs = Math.min(
        backoffDelay(attempt, options.initialMs, options.maxMs),
        Math.max(options.deadline - Date.now(), 0),
      );
      options.onRetry(err, attempt, delayMs);
      await sleep(delayMs, options.signal);
      if (options.signal.aborted) return undefined;
    }
  }
}
