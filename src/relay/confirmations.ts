import type { Logger } from 'pino';
import { formatLsn, type Lsn } from '../replication/lsn';

/**
 * Least time between two confirmations PostgreSQL did not ask for. Confirming after every
 * acknowledgement cost a socket write in the relay and a reply to process in the walsender per
 * transaction (at 1,000 single-row transactions/s, a thousand a second); this bounds them to ten a
 * second. The first confirmation after a quiet spell goes out at once; a crash re-publishes at
 * most this much more.
 */
export const CONFIRM_INTERVAL_MS = 100;

/** Where confirmations go: the replication stream's standby status update. */
export interface StatusChannel {
  sendStatus(confirmed: Lsn, replyRequested?: boolean): void;
}

/**
 * Sends a session's confirmed position to PostgreSQL: at once when forced (PostgreSQL also reads
 * it as a sign of life), otherwise when it moved, at most once per CONFIRM_INTERVAL_MS; a
 * confirmation inside the interval waits for its end and sends the position as it is then.
 */
export class Confirmations {
  private lastSentLsn: Lsn = -1n;
  /** When a status was last sent (performance.now()), and the timer of a deferred one. */
  private lastSentAt = -Infinity;
  private deferred: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    /** The position to confirm, read when a confirmation goes out. */
    private readonly confirmed: () => Lsn,
    private readonly log: Logger,
  ) {}

  send(channel: StatusChannel, force = false): void {
    if (this.stopped) return;
    const confirmed = this.confirmed();
    if (!force) {
      if (confirmed === this.lastSentLsn || this.deferred !== undefined) return;
      const wait = this.lastSentAt + CONFIRM_INTERVAL_MS - performance.now();
      if (wait > 0) {
        this.deferred = setTimeout(() => {
          this.deferred = undefined;
          this.send(channel);
        }, wait);
        this.deferred.unref();
        return;
      }
    }
    clearTimeout(this.deferred);
    this.deferred = undefined;
    this.lastSentAt = performance.now();
    channel.sendStatus(confirmed);
    if (confirmed !== this.lastSentLsn) {
      this.log.debug({ confirmedLsn: formatLsn(confirmed) }, 'confirmed position sent');
    }
    this.lastSentLsn = confirmed;
  }

  /** No more confirmations (the session ended); a deferred one is dropped. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.deferred);
    this.deferred = undefined;
  }
}
