import { formatLsn, parseLsn, type Lsn } from '../replication/lsn';

/**
 * How far one slot's events are on Kafka (exactly-once mode), as recorded in the position topic
 * inside the same Kafka transaction as the events themselves: what a read_committed reader sees
 * of the position is exactly what it sees of the events.
 */
export interface PublishedPosition {
  /** End LSN of the newest WAL transaction whose events are all published. */
  lsn: Lsn;
  /**
   * A WAL transaction too big for one Kafka transaction, published in part: its commit LSN (the
   * one BEGIN announces) and how many of its events, in stream order, are published.
   */
  partial?: { commitLsn: Lsn; events: number };
  /** Commit time of the newest published WAL transaction, microseconds since the epoch. */
  commitTimeUs?: bigint;
  /**
   * A slot gap is being repaired by re-publishing the outbox rows from this time (microseconds
   * since the epoch); set until the repair finished, so a crash during it repeats the repair.
   */
  repairFromUs?: bigint;
  /** The initial backfill (SNAPSHOT_MODE=initial) has not finished: a start repeats it. */
  snapshotPending?: boolean;
}

/** Where a published event sits in the WAL: its transaction's commit LSN and its index in it. */
export interface EventPosition {
  commitLsn: Lsn;
  /** 0-based, counting every event of the transaction in stream order (dead letters included). */
  index: number;
}

/**
 * True when the event at `at` is already on Kafka according to `position`. A WAL transaction is
 * published when its commit record starts before the recorded end LSN (commit records of later
 * transactions start at or after it); a partly published one, for its first `events` events.
 */
export function isPublished(position: PublishedPosition | undefined, at: EventPosition): boolean {
  if (position === undefined) return false;
  if (at.commitLsn < position.lsn) return true;
  const { partial } = position;
  return partial !== undefined && partial.commitLsn === at.commitLsn && at.index < partial.events;
}

/** The position record's value: JSON, LSNs in PostgreSQL's spelling, readable in kafka-ui. */
export function encodePosition(slot: string, position: PublishedPosition, writer: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      slot,
      lsn: formatLsn(position.lsn),
      partialCommitLsn:
        position.partial === undefined ? null : formatLsn(position.partial.commitLsn),
      partialEvents: position.partial?.events ?? null,
      commitTime:
        position.commitTimeUs === undefined
          ? null
          : new Date(Number(position.commitTimeUs / 1000n)).toISOString(),
      commitTimeUs: position.commitTimeUs === undefined ? null : String(position.commitTimeUs),
      ...(position.repairFromUs === undefined
        ? {}
        : { repairFromUs: String(position.repairFromUs) }),
      ...(position.snapshotPending === true ? { snapshotPending: true } : {}),
      writer,
    }),
  );
}

/** Parses a position record's value; throws an Error saying what is wrong with it. */
export function decodePosition(value: Buffer): PublishedPosition {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error('position record is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || typeof doc.lsn !== 'string') {
    throw new Error('position record has no "lsn"');
  }
  const position: PublishedPosition = { lsn: parseLsn(doc.lsn) };
  if (typeof doc.partialCommitLsn === 'string') {
    const events = doc.partialEvents;
    if (typeof events !== 'number' || !Number.isSafeInteger(events) || events < 0) {
      throw new Error('position record has a partial transaction without an event count');
    }
    position.partial = { commitLsn: parseLsn(doc.partialCommitLsn), events };
  }
  if (typeof doc.commitTimeUs === 'string' && /^\d+$/.test(doc.commitTimeUs)) {
    position.commitTimeUs = BigInt(doc.commitTimeUs);
  }
  if (typeof doc.repairFromUs === 'string' && /^\d+$/.test(doc.repairFromUs)) {
    position.repairFromUs = BigInt(doc.repairFromUs);
  }
  if (doc.snapshotPending === true) position.snapshotPending = true;
  return position;
}

/**
 * Follows what a sequence of published events and transaction ends amounts to, in stream order:
 * the position to record when a Kafka transaction commits after them.
 */
export class PositionBuilder {
  private current: PublishedPosition | undefined;

  constructor(start: PublishedPosition | undefined) {
    this.current = start;
  }

  get position(): PublishedPosition | undefined {
    return this.current;
  }

  /** The event at `at` is in the Kafka transaction. */
  event(at: EventPosition): void {
    const position: PublishedPosition = {
      lsn: this.current?.lsn ?? 0n,
      partial: { commitLsn: at.commitLsn, events: at.index + 1 },
    };
    if (this.current?.commitTimeUs !== undefined) position.commitTimeUs = this.current.commitTimeUs;
    this.current = position;
  }

  /** The WAL transaction ending at `endLsn` is complete in the Kafka transaction. */
  transactionEnd(endLsn: Lsn, commitTimeUs: bigint): void {
    this.current = { lsn: endLsn, commitTimeUs };
  }
}
