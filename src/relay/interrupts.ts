import type { RelayError } from '../errors';

/** What ends the current streaming session: a stop request, a fatal error, or a failure a new session (reconnect) may cure. */
export type Interrupt =
  | { kind: 'stop' }
  | { kind: 'fatal'; error: RelayError }
  | { kind: 'reconnect'; error: RelayError };

/**
 * Hands the next interrupt to the session loop, whether it arrives before or while the loop
 * waits. A later stop or fatal error replaces a pending 'reconnect' one, never the reverse, and
 * nothing replaces a pending fatal error: a fatal error wins over a stop request.
 */
export class Interrupts {
  private wake: ((interrupt: Interrupt) => void) | undefined;
  private pending: Interrupt | undefined;

  push(interrupt: Interrupt): void {
    if (this.wake !== undefined) {
      const wake = this.wake;
      this.wake = undefined;
      wake(interrupt);
    } else if (
      this.pending?.kind !== 'fatal' &&
      (this.pending === undefined || interrupt.kind !== 'reconnect')
    ) {
      this.pending = interrupt;
    }
  }

  next(): Promise<Interrupt> {
    if (this.pending !== undefined) {
      const pending = this.pending;
      this.pending = undefined;
      return Promise.resolve(pending);
    }
    return new Promise((resolve) => (this.wake = resolve));
  }

  /**
   * Takes a pending fatal error, for a loop that ended without waiting again (a stop during a
   * reconnect backoff): the error must still reach the exit code.
   */
  takeFatal(): RelayError | undefined {
    if (this.pending?.kind !== 'fatal') return undefined;
    const { error } = this.pending;
    this.pending = undefined;
    return error;
  }

  /**
   * Forgets a lost-stream notice the ended session left behind. A fatal error or a stop request
   * is kept: it must reach the loop even when it arrived between two sessions (e.g. the publisher
   * failing for good while the relay waits to reconnect).
   */
  clear(): void {
    if (this.pending?.kind === 'reconnect') this.pending = undefined;
  }
}
