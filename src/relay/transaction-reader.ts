import type { AckTracker, TrackedTransaction } from '../ack/ack-tracker';
import { isPublished, type PublishedPosition } from '../ack/published-position';
import { commitTimeMs, type TransactionSource } from '../events/domain-event';
import type { Lsn } from '../replication/lsn';
import type { BeginMessage } from '../replication/pgoutput-decoder';
import { pgTimestampToUnixMicros } from '../replication/protocol';

/** The WAL transaction being read. */
export interface OpenTransaction {
  /** Where its events come from, built once per transaction. */
  source: TransactionSource;
  /** The commit time in ms since the epoch (from `source.commitTimeUs`, once per transaction). */
  commitTimeMs: number;
  tracked: TrackedTransaction;
  /** Events met so far in this transaction, published or skipped: the next event's index. */
  events: number;
  /** Events handed to the sink. */
  enqueued: number;
}

/**
 * Transaction reading: BEGIN opens a transaction (tracked for acknowledgement), COMMIT closes it;
 * every event in between gets its index, and one at or before the published position
 * (exactly-once, after a restart) is recognised as already on Kafka.
 */
export class TransactionReader {
  private open: OpenTransaction | undefined;
  /** Exactly-once: what is already on Kafka; those events are skipped. */
  published: PublishedPosition | undefined;
  /** Events skipped as already on Kafka. */
  skipped = 0;

  constructor(private readonly tracker: AckTracker) {}

  begin(message: BeginMessage): void {
    const source = {
      xid: message.xid,
      commitLsn: message.finalLsn,
      commitTimeUs: pgTimestampToUnixMicros(message.commitTime),
    };
    this.open = {
      source,
      commitTimeMs: commitTimeMs(source),
      tracked: this.tracker.begin(message.xid),
      events: 0,
      enqueued: 0,
    };
  }

  /** COMMIT: the transaction that ended, if one was open; the confirmable LSN if it moved. */
  commit(endLsn: Lsn): { ended: OpenTransaction | undefined; confirmable: Lsn | undefined } {
    const ended = this.open;
    this.open = undefined;
    return { ended, confirmable: this.tracker.commit(endLsn) };
  }

  /** The open transaction, or undefined between transactions. */
  get current(): OpenTransaction | undefined {
    return this.open;
  }

  /** Counts the next event of `txn`; false when it is already on Kafka (skip it). */
  nextEvent(txn: OpenTransaction): boolean {
    const index = txn.events++;
    if (!isPublished(this.published, { commitLsn: txn.source.commitLsn, index })) return true;
    this.skipped++;
    return false;
  }
}
