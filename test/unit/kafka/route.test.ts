import type { DomainEvent } from '../../../src/events/domain-event';
import { RecordMapper } from '../../../src/kafka/record-mapper';
import { recordOrDeadLetter } from '../../../src/kafka/route';

const event: DomainEvent = {
  id: 'e-1',
  aggregateType: 'order',
  aggregateId: 'o-1',
  type: 'Placed',
  payload: Buffer.from('{"a": 1}'),
  occurredAt: new Date(0),
  metadata: {},
  fields: {},
  source: { table: 'public.outbox', xid: 1, commitLsn: 1n, commitTimeUs: 0n },
};
const records = new RecordMapper('outbox.event.{aggregateType}');

describe('recordOrDeadLetter', () => {
  it('canRouteAValidEventToItsRecord', () => {
    expect(recordOrDeadLetter({ ok: true, event }, records, 10_000)).toMatchObject({
      ok: true,
      record: { topic: 'outbox.event.order', key: 'o-1' },
    });
  });

  it('failsOnInvalidRows with the mapper reason', () => {
    const invalid = {
      reason: 'MISSING_TYPE' as const,
      message: 'blank type',
      row: {},
      eventId: 'e-1',
    };
    expect(recordOrDeadLetter({ ok: false, invalid }, records, 10_000)).toEqual({
      ok: false,
      problem: {
        reason: 'MISSING_TYPE',
        message: 'blank type',
        eventId: 'e-1',
        aggregateId: undefined,
      },
    });
  });

  it('failsOnTopicsKafkaRejects, naming the intended topic', () => {
    expect(
      recordOrDeadLetter({ ok: true, event: { ...event, aggregateType: 'a b' } }, records, 10_000),
    ).toMatchObject({
      ok: false,
      problem: { reason: 'INVALID_TOPIC', intendedTopic: 'outbox.event.a b', eventId: 'e-1' },
    });
  });

  it('failsOnRecordsOverTheSizeLimit', () => {
    const big = { ...event, payload: Buffer.alloc(20_000, 0x61) };
    expect(recordOrDeadLetter({ ok: true, event: big }, records, 10_000)).toMatchObject({
      ok: false,
      problem: { reason: 'RECORD_TOO_LARGE', intendedTopic: 'outbox.event.order' },
    });
  });
});
