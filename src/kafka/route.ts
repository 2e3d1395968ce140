import type { MappedRow } from '../events/outbox-mapper';
import type { DeadLetter } from './dead-letter';
import { recordBytes, type KafkaRecord, type RecordMapper } from './record-mapper';

/** Why an event cannot be published as itself (the source position is added by the caller). */
export type RouteProblem = Omit<DeadLetter, 'table' | 'commitLsn' | 'xid' | 'timestamp' | 'row'>;

export type Route =
  { ok: true; record: KafkaRecord; bytes: number } | { ok: false; problem: RouteProblem };

/**
 * Decides what a mapped row becomes: its record, or a problem for the dead-letter path (invalid
 * row, topic Kafka rejects, record over the size limit). Pure.
 */
export function recordOrDeadLetter(
  mapped: MappedRow,
  records: RecordMapper,
  maxRecordBytes: number,
): Route {
  if (!mapped.ok) {
    const { reason, message, eventId, aggregateId } = mapped.invalid;
    return { ok: false, problem: { reason, message, eventId, aggregateId } };
  }
  const { event } = mapped;
  const result = records.map(event);
  if (!result.ok) {
    return {
      ok: false,
      problem: {
        reason: result.reason,
        message: result.message,
        eventId: event.id,
        aggregateId: event.aggregateId,
        intendedTopic: records.topicFor(event),
      },
    };
  }
  const bytes = recordBytes(result.record);
  if (bytes > maxRecordBytes) {
    return {
      ok: false,
      problem: {
        reason: 'RECORD_TOO_LARGE',
        message: `record of ${bytes} bytes is larger than KAFKA_MAX_RECORD_BYTES (${maxRecordBytes})`,
        eventId: event.id,
        aggregateId: event.aggregateId,
        intendedTopic: result.record.topic,
      },
    };
  }
  return { ok: true, record: result.record, bytes };
}
