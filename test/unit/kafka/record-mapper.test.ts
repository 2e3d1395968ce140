import type { DomainEvent } from '../../../src/events/domain-event';
import { CloudEventsFormat } from '../../../src/kafka/formats/cloudevents';
import { JsonFormat } from '../../../src/kafka/formats/json';
import { RecordMapper } from '../../../src/kafka/record-mapper';
import { topicProblem, TopicTemplate } from '../../../src/kafka/topic-name';

const event: DomainEvent = {
  id: '9b1d-1',
  aggregateType: 'order',
  aggregateId: 'order-42',
  type: 'OrderCreated',
  payload: Buffer.from('{"total": 42}'),
  occurredAt: new Date(1_700_000_000_123),
  metadata: {},
  fields: { tenant: 'acme', shard: '2', account: 'acct-9', blank: '  ', nothing: null },
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
    const mapper = new RecordMapper(
      'outbox.event.{aggregateType}',
      new CloudEventsFormat('/app/db'),
    );
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

  it('failsOnTopicsKafkaRejects, every time, however often the same values come', () => {
    const mapper = new RecordMapper('outbox.event.{aggregateType}');
    const bad = { ...event, aggregateType: 'bad type/ä' };
    for (const candidate of [bad, event, bad]) {
      expect(mapper.map(candidate)).toEqual(
        candidate === bad
          ? {
              ok: false,
              reason: 'INVALID_TOPIC',
              message: expect.stringContaining('"outbox.event.bad type/ä" must be') as unknown,
            }
          : expect.objectContaining({ ok: true }),
      );
    }
    expect(topicProblem('..')).toContain('reserved');
    expect(topicProblem('a'.repeat(250))).toBeDefined();
    expect(topicProblem('a'.repeat(249))).toBeUndefined();
  });

  it('canRouteByAnyColumn and the event fields, whatever their columns are called', () => {
    const mapper = new RecordMapper('{tenant}.{aggregateType}.{type}');
    expect(mapper.map(event)).toMatchObject({
      ok: true,
      record: { topic: 'acme.order.OrderCreated' },
    });
  });

  it.each([
    ['{nothing}.events', '{nothing} has no value'],
    ['{blank}.events', '{blank} has no value'],
    ['{absent}.events', '{absent} has no value'],
    ['{tenant}.{constructor}', '{constructor} has no value'],
  ])('failsOnAPlaceholderWithoutValue %s', (template, message) => {
    expect(new RecordMapper(template).map(event)).toEqual({
      ok: false,
      reason: 'INVALID_TOPIC',
      message: expect.stringContaining(message) as unknown,
    });
  });

  it('canKeyByAnotherColumn: its value, or no key when it is null', () => {
    const topic = TopicTemplate.parse('t');
    const byAccount = new RecordMapper({ topic, keyColumn: 'account' });
    expect(byAccount.map(event)).toMatchObject({ ok: true, record: { key: 'acct-9' } });
    const byNothing = new RecordMapper({ topic, keyColumn: 'nothing' });
    expect(byNothing.map(event)).toMatchObject({ ok: true, record: { key: null } });
  });

  it('canPlaceAColumnAsThePartition; a value that is no partition number is refused', () => {
    const topic = TopicTemplate.parse('t');
    const byShard = new RecordMapper({ topic, partitionColumn: 'shard' });
    expect(byShard.map(event)).toMatchObject({ ok: true, record: { partition: 2 } });
    const byNothing = new RecordMapper({ topic, partitionColumn: 'nothing' });
    const unset = byNothing.map(event);
    expect(unset.ok && unset.record.partition).toBeUndefined();
    const byTenant = new RecordMapper({ topic, partitionColumn: 'tenant' });
    expect(byTenant.map(event)).toEqual({
      ok: false,
      reason: 'INVALID_PARTITION',
      message: 'partition column tenant holds "acme", not a partition number',
    });
  });

  it('canPlaceColumnsInTheEnvelope with the payload bytes untouched; a tombstone stays one', () => {
    const mapper = new RecordMapper(
      'outbox.event.{aggregateType}',
      new JsonFormat([
        { column: 'tenant', alias: 'tenant' },
        { column: 'nothing', alias: 'gone' },
      ]),
    );
    const result = mapper.map({ ...event, payload: Buffer.from('{"n": 12345678901234567890}') });
    expect(result.ok && result.record.value!.toString()).toBe(
      '{"payload":{"n": 12345678901234567890},"tenant":"acme","gone":null}',
    );
    const tombstone = mapper.map({ ...event, payload: null });
    expect(tombstone.ok && tombstone.record.value).toBeNull();
  });
});

describe('TopicTemplate', () => {
  it.each([
    ['{tenant name}.x', 'name no field'],
    ['a{b', 'unmatched brace'],
    ['a}b', 'unmatched brace'],
    ['bad topic {tenant}', 'no legal topic name'],
  ])('failsOnTemplate %s', (template, message) => {
    expect(() => TopicTemplate.parse(template)).toThrow(message);
  });

  it('canTellWhichTopicsItProduces', () => {
    const template = TopicTemplate.parse('{tenant}.outbox.{aggregateType}');
    expect(template.fields).toEqual(['tenant', 'aggregateType']);
    expect(template.matches('acme.outbox.order')).toBe(true);
    expect(template.matches('acme.outboxXorder')).toBe(false);
    expect(template.matches('.outbox.order')).toBe(false);
    expect(TopicTemplate.parse('all').matches('all')).toBe(true);
  });
});
