import { deadLetterRecord, DLQ_HEADERS, type DeadLetter } from '../../../src/kafka/dead-letter';

const letter: DeadLetter = {
  reason: 'MISSING_AGGREGATE_ID',
  message: 'outbox row in public.outbox has a null or blank aggregateid',
  row: {
    id: 'e-1',
    aggregatetype: 'order',
    aggregateid: null,
    type: 'OrderCreated',
    payload: '{"a": 1}',
  },
  table: 'public.outbox',
  commitLsn: 0x1_0000_0010n,
  xid: 77,
  eventId: 'e-1',
  timestamp: '1700000000000',
};

describe('deadLetterRecord', () => {
  it('canDescribeWhyAndWhereFrom in headers and keep the row as the value', () => {
    const record = deadLetterRecord(
      { ...letter, intendedTopic: 'outbox.event.order' },
      'outbox.dead-letter',
      1_000_000,
    );
    expect(record).toEqual({
      topic: 'outbox.dead-letter',
      key: 'e-1',
      value: Buffer.from(JSON.stringify(letter.row)),
      timestamp: '1700000000000',
      headers: {
        [DLQ_HEADERS.reason]: 'MISSING_AGGREGATE_ID',
        [DLQ_HEADERS.message]: letter.message,
        [DLQ_HEADERS.table]: 'public.outbox',
        [DLQ_HEADERS.lsn]: '1/10',
        [DLQ_HEADERS.xid]: '77',
        [DLQ_HEADERS.eventId]: 'e-1',
        [DLQ_HEADERS.intendedTopic]: 'outbox.event.order',
      },
    });
  });

  it('canKeyByAggregateIdWhenThereIsOne, so the aggregate stays in one partition', () => {
    expect(deadLetterRecord({ ...letter, aggregateId: 'order-9' }, 'dlq', 1_000_000).key).toBe(
      'order-9',
    );
    expect(deadLetterRecord({ ...letter, eventId: undefined }, 'dlq', 1_000_000).key).toBeNull();
  });

  it('canDropTheColumnThatMadeARowTooLarge and say so', () => {
    const big = {
      ...letter,
      reason: 'RECORD_TOO_LARGE' as const,
      row: { ...letter.row, payload: 'x'.repeat(50_000) },
    };
    const record = deadLetterRecord(big, 'dlq', 10_000);
    expect(record.value!.length).toBeLessThan(10_000);
    expect(record.headers[DLQ_HEADERS.omitted]).toBe('payload');
    expect(JSON.parse(record.value!.toString())).toEqual({ ...letter.row, payload: null });
  });
});
