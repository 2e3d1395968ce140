import type { Lsn } from '../replication/lsn';

/** One transaction's progress: events handed to Kafka and not yet acknowledged. */
export interface TrackedTransaction {
  readonly xid: number;
  pending: number;
  /** Set when the Commit message arrived: the transaction is complete in the stream. */
  endLsn: Lsn | undefined;
}

/**
 * Decides which LSN may be confirmed to PostgreSQL. Transactions arrive in commit order; Kafka
 * acknowledges events in any order. The confirmed LSN is the end LSN of the newest transaction
 * such that it and every earlier one are committed and fully acknowledged: never past an event
 * the broker has not acknowledged (DESIGN.md guarantee 1), exactly the end LSN (no "+1").
 */
export class AckTracker {
  /** Transactions not yet confirmable, oldest first. */
  private readonly queue: TrackedTransaction[] = [];
  private head = 0;
  private open: TrackedTransaction | undefined;
  private confirmedLsn: Lsn;

  constructor(startLsn: Lsn) {
    this.confirmedLsn = startLsn;
  }

  get confirmed(): Lsn {
    return this.confirmedLsn;
  }

  /** Transactions waiting for acknowledgements or for their commit. */
  get pendingTransactions(): number {
    return this.queue.length - this.head;
  }

  /** True when nothing is in flight: a keepalive's position may then be confirmed. */
  get idle(): boolean {
    return this.open === undefined && this.pendingTransactions === 0;
  }

  begin(xid: number): TrackedTransaction {
    if (this.open !== undefined)
      throw new Error(`BEGIN ${xid} inside open transaction ${this.open.xid}`);
    const txn: TrackedTransaction = { xid, pending: 0, endLsn: undefined };
    this.open = txn;
    this.queue.push(txn);
    return txn;
  }

  /** Counts one more event of the open transaction; returns the token to acknowledge it with. */
  addEvent(): TrackedTransaction {
    if (this.open === undefined) throw new Error('event outside a transaction');
    this.open.pending++;
    return this.open;
  }

  /** The open transaction is complete in the stream; returns the new confirmable LSN, if any. */
  commit(endLsn: Lsn): Lsn | undefined {
    if (this.open === undefined) throw new Error('COMMIT without BEGIN');
    this.open.endLsn = endLsn;
    this.open = undefined;
    return this.advance();
  }

  /** Kafka acknowledged `count` events of `txn`; returns the new confirmable LSN, if any. */
  ack(txn: TrackedTransaction, count = 1): Lsn | undefined {
    txn.pending -= count;
    if (txn.pending < 0) throw new Error(`transaction ${txn.xid} acknowledged more than it sent`);
    return txn.pending === 0 && txn.endLsn !== undefined ? this.advance() : undefined;
  }

  /**
   * With nothing in flight, a keepalive's WAL end may be confirmed: everything before it was
   * either published or not for us. This releases WAL written by unrelated tables.
   */
  idleAt(walEnd: Lsn): Lsn | undefined {
    if (!this.idle || walEnd <= this.confirmedLsn) return undefined;
    this.confirmedLsn = walEnd;
    return walEnd;
  }

  private advance(): Lsn | undefined {
    let advanced: Lsn | undefined;
    while (this.head < this.queue.length) {
      const txn = this.queue[this.head]!;
      if (txn.endLsn === undefined || txn.pending > 0) break;
      if (txn.endLsn > this.confirmedLsn) advanced = this.confirmedLsn = txn.endLsn;
      this.head++;
    }
    // Drop finished entries in bulk so the queue does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return advanced;
  }
}
