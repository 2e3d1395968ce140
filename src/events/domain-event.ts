import type { Lsn } from '../replication/lsn';

/** Where an event came from in the WAL. */
export interface EventSource {
  /** Schema-qualified outbox table. */
  table: string;
  xid: number;
  /** LSN of the transaction's commit record. */
  commitLsn: Lsn;
  /** Commit time in microseconds since the Unix epoch (full precision; `occurredAt` is ms). */
  commitTimeUs: bigint;
}

/** Where a transaction's events come from, before the table they are read from is known. */
export type TransactionSource = Omit<EventSource, 'table'>;

/**
 * The source of an event read from `table` in the transaction. Built field by field: an object
 * spread here cost more CPU than anything else in mapping a row.
 */
export function sourceIn(txn: TransactionSource, table: string): EventSource {
  return { table, xid: txn.xid, commitLsn: txn.commitLsn, commitTimeUs: txn.commitTimeUs };
}

/**
 * The commit time in whole milliseconds since the epoch (truncated, as `commitTimeUs / 1000n`),
 * in float arithmetic where the microseconds are a safe integer (until the year 2255).
 */
export function commitTimeMs({ commitTimeUs }: Pick<EventSource, 'commitTimeUs'>): number {
  const us = Number(commitTimeUs);
  return Number.isSafeInteger(us) ? (us - (us % 1000)) / 1000 : Number(commitTimeUs / 1000n);
}

/**
 * A domain event as the outbox row states it, with nothing broker-specific: the Kafka stage maps
 * it to a record (topic, key, headers, value); another broker would map it differently.
 */
export interface DomainEvent {
  /** Event id, stable across redelivery: consumers drop duplicates by it. */
  id: string;
  aggregateType: string;
  aggregateId: string;
  type: string;
  /** The payload as stored (JSON text bytes), or null. */
  payload: Buffer | null;
  occurredAt: Date;
  /** Extra context such as correlation id or traceparent. */
  metadata: Readonly<Record<string, string>>;
  /**
   * Further outbox columns the routing names (topic placeholders, key column, envelope and
   * partition fields), by column name (JSON member name for a table-less message): their text,
   * or null when null or absent.
   */
  fields: Readonly<Record<string, string | null>>;
  source: EventSource;
}
