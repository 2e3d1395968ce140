import type { Logger } from 'pino';
import { describeError } from '../errors';
import type { SlotPositions } from '../kafka/slot-positions';
import type { RelayState } from '../ops/state';
import type { Lsn } from '../replication/lsn';

/** How often at-least-once records the confirmed position in the position topic. */
export const CHECKPOINT_INTERVAL_MS = 5_000;

/**
 * At-least-once checkpoints: the position confirmed to PostgreSQL (and the newest acknowledged
 * commit time), written to the position topic every few seconds when it moved and once more on
 * the way out, so a lost slot can be told from a first start (see slot-gap.ts). A failed write
 * is logged once and retried at the next interval; it never stops the relay.
 */
export class Checkpoints {
  private timer: NodeJS.Timeout | undefined;
  private recorded: Lsn | undefined;
  private writing = false;
  private failing = false;

  constructor(
    private readonly positions: SlotPositions,
    private readonly state: RelayState,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.record(), CHECKPOINT_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer and records the final position. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.record();
  }

  private async record(): Promise<void> {
    const lsn = this.state.confirmedLsn;
    if (this.writing || lsn === undefined || lsn === this.recorded) return;
    this.writing = true;
    const commitMs = this.state.lastEventCommitMs;
    try {
      await this.positions.write({
        lsn,
        ...(commitMs === undefined ? {} : { commitTimeUs: BigInt(commitMs) * 1000n }),
      });
      this.recorded = lsn;
      if (this.failing) this.log.info('recording the slot position works again');
      this.failing = false;
    } catch (err) {
      if (!this.failing)
        this.log.warn(
          { error: describeError(err) },
          'cannot record the slot position in the position topic; retrying (a lost slot would go unnoticed meanwhile)',
        );
      this.failing = true;
    } finally {
      this.writing = false;
    }
  }
}
