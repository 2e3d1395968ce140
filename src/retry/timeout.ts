/**
 * `promise`'s value, or `fallback` once `ms` passed first. The timer is cleared either way, so a
 * pending race never keeps the process alive. A rejection of `promise` is passed on.
 */
export async function raceTimeout<T, F>(
  promise: Promise<T>,
  ms: number,
  fallback: F,
): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
