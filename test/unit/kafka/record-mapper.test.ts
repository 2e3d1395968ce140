import type { DomainEvent } from '../../../src/events/domain-event';
import { RecordMapper, topicProblem } from '../../../src/kafka/record-mapper';

const event: DomainEvent = {
  id: '9b1d-1',
  aggregateType: 'order',
  aggregateId: 'order-42',
  type: 'OrderCreated',
  payload: Buffer.from('{"total": 42}'),
  occurredAt: new Date(1_700_000_000_123),
  metadata: {},
  source: { table: 'public.outbox', xid: 1, commitLsn: 1n, commitTimeUs: 1n },
};

describe('RecordMapper', () => {
  it('canMapAnEventToTopicKeyHeadersAndValue', () => {
    expect(new RecordMapper('outbox.event.{aggregateType}').map(event)).toEqual({
      ok: true,
      record: {
        topic: 'outbox.event.order',
        key: 'order-42',
        value: Buffer.from('{"total": 42}'),
        headers: { id: '9b1d-1', type: 'OrderCreated', aggregateType: 'order' },
        timestamp: '1700000000123',
      },
    });
  });

  it('canAddMetadataHeaders without letting them replace id, type or aggregateType', () => {
    const withMetadata = {
      ...event,
      metadata: { correlationId: 'c-1', traceparent: '00-abc-def-01', id: 'spoof' },
    };
    const result = new RecordMapper('t').map(withMetadata);
    expect(result.ok && result.record.headers).toEqual({
      correlationId: 'c-1',
      traceparent: '00-abc-def-01',
      id: '9b1d-1',
      type: 'OrderCreated',
      aggregateType: 'order',
    });
  });

  it('canWriteCloudEventsInBinaryContentMode', () => {
    const mapper = new RecordMapper('outbox.event.{aggregateType}', {
      format: 'cloudevents',
      cloudEventsSource: '/app/db',
    });
    const result = mapper.map({ ...event, metadata: { traceparent: '00-abc-def-01' } });
    expect(result).toEqual({
      ok: true,
      record: {
        topic: 'outbox.event.order',
        key: 'order-42',
        value: Buffer.from('{"total": 42}'),
        timestamp: '1700000000123',
        headers: {
          traceparent: '00-abc-def-01',
          ce_specversion: '1.0',
          ce_id: '9b1d-1',
          ce_source: '/app/db',
          ce_type: 'OrderCreated',
          ce_time: '2023-11-14T22:13:20.123Z',
          ce_subject: 'order-42',
          'content-type': 'application/json',
        },
      },
    });
    const tombstone = mapper.map({ ...event, payload: null });
    expect(tombstone.ok && tombstone.record.value).toBeNull();
    expect(tombstone.ok && tombstone.record.headers['content-type']).toBeUndefined();
  });

  it('canUseATemplateWithoutPlaceholders', () => {
    expect(new RecordMapper('all-events').topicFor(event)).toBe('all-events');
  });

  it('failsOnTopicsKafkaRejects', () => {
    const result = new RecordMapper('outbox.event.{aggregateType}').map({
      ...event,
      aggregateType: 'bad type/ä',
    });
    expect(result).toEqual({
      ok: false,
      reason: 'INVALID_TOPIC',
      message: expect.stringContaining('"outbox.event.bad type/ä" must be') as unknown,
    });
    expect(topicProblem('..')).toContain('reserved');
    expect(topicProblem('a'.repeat(250))).toBeDefined();
    expect(topicProblem('a'.repeat(249))).toBeUndefined();
  });
});
