import type { DeadLetterReason } from '../dead-letter-reason';
import { formatLsn, type Lsn } from '../replication/lsn';
import type { KafkaRecord } from './record-mapper';

export interface DeadLetter {
  reason: DeadLetterReason;
  message: string;
  /** The row's columns as text, as decoded from the WAL. */
  row: Readonly<Record<string, string | null>>;
  table: string;
  commitLsn: Lsn;
  xid: number;
  eventId?: string | undefined;
  aggregateId?: string | undefined;
  intendedTopic?: string | undefined;
  timestamp: string;
}

/** Header names of dead-letter records (documented in the README). */
export const DLQ_HEADERS = {
  reason: 'dlq.reason',
  message: 'dlq.message',
  intendedTopic: 'dlq.intended.topic',
  eventId: 'dlq.event.id',
  table: 'dlq.source.table',
  lsn: 'dlq.source.lsn',
  xid: 'dlq.source.xid',
  omitted: 'dlq.omitted.columns',
} as const;

/**
 * The dead-letter record for a row: value = the row's columns (JSON object of text values, as
 * decoded), headers = why and where from. When the row itself is too large, the biggest columns
 * are left out until it fits, and `dlq.omitted.columns` names them.
 */
export function deadLetterRecord(letter: DeadLetter, topic: string, maxBytes: number): KafkaRecord {
  const headers: Record<string, string> = {
    [DLQ_HEADERS.reason]: letter.reason,
    [DLQ_HEADERS.message]: letter.message,
    [DLQ_HEADERS.table]: letter.table,
    [DLQ_HEADERS.lsn]: formatLsn(letter.commitLsn),
    [DLQ_HEADERS.xid]: String(letter.xid),
  };
  if (letter.eventId !== undefined) headers[DLQ_HEADERS.eventId] = letter.eventId;
  if (letter.intendedTopic !== undefined) headers[DLQ_HEADERS.intendedTopic] = letter.intendedTopic;

  const row: Record<string, string | null> = { ...letter.row };
  const omitted: string[] = [];
  let value = Buffer.from(JSON.stringify(row));
  const budget = maxBytes - 2048; // headers, key and record overhead
  while (value.length > budget) {
    const biggest = Object.keys(row)
      .filter((c) => row[c] !== null && !omitted.includes(c))
      .sort((a, b) => (row[b]?.length ?? 0) - (row[a]?.length ?? 0))[0];
    if (biggest === undefined) break;
    omitted.push(biggest);
    row[biggest] = null;
    value = Buffer.from(JSON.stringify(row));
  }
  if (omitted.length > 0) headers[DLQ_HEADERS.omitted] = omitted.join(',');
  const key = letter.aggregateId?.trim() ? letter.aggregateId : (letter.eventId ?? null);
  return { topic, key, value, headers, timestamp: letter.timestamp };
}

/**
 * The dead-letter record for a record whose chosen partition its topic does not have (found only
 * when sending): the record as it was (key, value, headers) plus the dlq.* headers that say why.
 */
export function partitionDeadLetter(
  record: KafkaRecord,
  partitions: number,
  topic: string,
): KafkaRecord {
  return {
    topic,
    key: record.key,
    value: record.value,
    timestamp: record.timestamp,
    headers: {
      ...record.headers,
      [DLQ_HEADERS.reason]: 'INVALID_PARTITION',
      [DLQ_HEADERS.message]: `partition ${record.partition} is outside topic ${record.topic}'s ${partitions} partitions`,
      [DLQ_HEADERS.intendedTopic]: record.topic,
      [DLQ_HEADERS.eventId]: record.headers.id ?? record.headers.ce_id ?? '',
    },
  };
}
