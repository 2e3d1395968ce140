import { TableName } from '../../../src/table-name';
import { commitTimeMs } from '../../../src/events/domain-event';
import { OutboxMapper, parseTimestamp } from '../../../src/events/outbox-mapper';
import { isRelayError } from '../../../src/errors';
import {
  decodePgoutput,
  type InsertMessage,
  type RelationMessage,
} from '../../../src/replication/pgoutput-decoder';
import { PgoutputBuilder as B } from '../replication/pgoutput-builder';

const COLUMNS: Array<[string, number]> = [
  ['id', 2950],
  ['aggregatetype', 25],
  ['aggregateid', 25],
  ['type', 25],
  ['payload', 3802],
];
const source = { xid: 9, commitLsn: 0x100n, commitTimeUs: 1_700_000_000_123_456n };
const relation = (columns = COLUMNS, name = 'outbox', id = 1) =>
  decodePgoutput(B.relation(id, 'public', name, columns)) as RelationMessage;
const insert = (values: Array<string | null>, id = 1) =>
  decodePgoutput(B.insert(id, values)) as InsertMessage;

describe('OutboxMapper', () => {
  it('canMapAnOutboxInsertToADomainEvent', () => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    mapper.onRelation(relation());
    const result = mapper.onInsert(
      insert(['e-1', 'order', 'order-7', 'OrderCreated', '{"total": 5}']),
      source,
    );
    expect(result).toEqual({
      ok: true,
      event: {
        id: 'e-1',
        aggregateType: 'order',
        aggregateId: 'order-7',
        type: 'OrderCreated',
        payload: Buffer.from('{"total": 5}'),
        occurredAt: new Date(1_700_000_000_123),
        metadata: {},
        fields: {},
        source: { ...source, table: 'public.outbox' },
      },
    });
  });

  it('canCarryRoutingColumns: their text, null when null or gone from the table', () => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'), {
      columns: {
        id: 'id',
        aggregateType: 'aggregatetype',
        aggregateId: 'aggregateid',
        type: 'type',
        payload: 'payload',
      },
      headers: [],
      fields: ['tenant', 'shard', 'dropped'],
    });
    mapper.onRelation(relation([...COLUMNS, ['tenant', 25], ['shard', 23]]));
    const result = mapper.onInsert(
      insert(['e-1', 'order', 'order-7', 'OrderCreated', '{}', 'acme', null]),
      source,
    );
    expect(result).toMatchObject({
      ok: true,
      event: { fields: { tenant: 'acme', shard: null, dropped: null } },
    });
  });

  it('canFindColumnsInAnyOrderAndIgnoreExtraColumns', () => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    mapper.onRelation(relation([['payload', 3802], ['extra', 25], ...COLUMNS.slice(0, 4)]));
    const result = mapper.onInsert(
      insert(['{}', 'x', 'e-2', 'member', 'm-1', 'MemberCreated']),
      source,
    );
    expect(result).toMatchObject({
      ok: true,
      event: { id: 'e-2', aggregateId: 'm-1', payload: Buffer.from('{}') },
    });
  });

  it('canKeepThePayloadWhenTheNetworkBufferIsReused', () => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    mapper.onRelation(relation());
    const bytes = B.insert(1, ['e', 'a', 'b', 'T', '{"v": 1}']);
    const result = mapper.onInsert(decodePgoutput(bytes) as InsertMessage, source);
    bytes.fill(0x7a); // pg reuses its read buffer for the next messages
    expect(result?.ok === true && result.event.payload?.toString()).toBe('{"v": 1}');
  });

  it('ignoresOtherTables', () => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    mapper.onRelation(relation(COLUMNS, 'orders', 2));
    expect(mapper.onInsert(insert(['a', 'b', 'c', 'd', 'e'], 2), source)).toBeUndefined();
  });

  it('keepsANullPayloadAsNull', () => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    mapper.onRelation(relation());
    expect(mapper.onInsert(insert(['e', 'a', 'b', 'T', null]), source)).toMatchObject({
      ok: true,
      event: { payload: null },
    });
  });

  it.each([
    [['e', 'a', null, 'T', '{}'], 'MISSING_AGGREGATE_ID', 'aggregateid'],
    [['e', 'a', '  ', 'T', '{}'], 'MISSING_AGGREGATE_ID', 'aggregateid'],
    [['e', '', 'b', 'T', '{}'], 'MISSING_AGGREGATE_TYPE', 'aggregatetype'],
    [['e', 'a', 'b', null, '{}'], 'MISSING_TYPE', 'type'],
    [[null, 'a', 'b', 'T', '{}'], 'MISSING_ID', 'id'],
  ])('failsOnInvalidRow %j', (values, reason, column) => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    mapper.onRelation(relation());
    const result = mapper.onInsert(insert(values), source);
    expect(result).toMatchObject({ ok: false, invalid: { reason } });
    expect(result?.ok === false && result.invalid.message).toContain(`blank ${column}`);
  });

  it('failsOnAPayloadThatIsNotJsonInATextColumn, but trusts json/jsonb columns', () => {
    const textPayload = COLUMNS.map(([c, oid]): [string, number] => [
      c,
      c === 'payload' ? 25 : oid,
    ]);
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    mapper.onRelation(relation(textPayload));
    expect(mapper.onInsert(insert(['e', 'a', 'b', 'T', 'not json']), source)).toMatchObject({
      ok: false,
      invalid: { reason: 'PAYLOAD_NOT_JSON', eventId: 'e', aggregateId: 'b' },
    });
    expect(mapper.onInsert(insert(['e', 'a', 'b', 'T', '{"ok": true}']), source)).toMatchObject({
      ok: true,
    });
  });

  it('failsWhenTheTableLosesARequiredColumn', () => {
    const mapper = new OutboxMapper(new TableName('public', 'outbox'));
    try {
      mapper.onRelation(relation(COLUMNS.filter(([c]) => c !== 'aggregateid')));
      throw new Error('expected an error');
    } catch (err) {
      expect(isRelayError(err, 'OUTBOX_COLUMNS_MISSING')).toBe(true);
    }
  });
});

describe('OutboxMapper with a configured layout', () => {
  const layout = {
    columns: {
      id: 'event_id',
      aggregateType: 'stream',
      aggregateId: 'stream_id',
      type: 'kind',
      payload: 'body',
    },
    timestamp: 'occurred_at',
    headers: [
      { column: 'correlation_id', header: 'correlationId' },
      { column: 'causation_id', header: 'causation_id' },
    ],
  };
  const columns: Array<[string, number]> = [
    ['event_id', 2950],
    ['stream', 25],
    ['stream_id', 25],
    ['kind', 25],
    ['body', 3802],
    ['occurred_at', 1184],
    ['correlation_id', 25],
    ['causation_id', 25],
    ['traceparent', 25],
  ];

  it('canMapRenamedColumnsHeaderColumnsTraceContextAndTheEventTime', () => {
    const mapper = new OutboxMapper(new TableName('app', 'events'), layout);
    mapper.onRelation(decodePgoutput(B.relation(5, 'app', 'events', columns)) as RelationMessage);
    const result = mapper.onInsert(
      insert(
        [
          'e-9',
          'order',
          'o-1',
          'Placed',
          '{}',
          '2026-01-02 03:04:05.678901+02',
          'corr-1',
          null,
          '00-4bf9-00f0-01',
        ],
        5,
      ),
      source,
    );
    expect(result).toMatchObject({
      ok: true,
      event: {
        id: 'e-9',
        aggregateType: 'order',
        aggregateId: 'o-1',
        type: 'Placed',
        occurredAt: new Date('2026-01-02T01:04:05.678Z'),
        metadata: { correlationId: 'corr-1', traceparent: '00-4bf9-00f0-01' },
        source: { table: 'app.events' },
      },
    });
  });

  it('canRunWithoutOptionalColumns: absent header and time columns are left out', () => {
    const mapper = new OutboxMapper(new TableName('app', 'events'), layout);
    mapper.onRelation(
      decodePgoutput(B.relation(5, 'app', 'events', columns.slice(0, 5))) as RelationMessage,
    );
    const result = mapper.onInsert(insert(['e', 'a', 'b', 'T', '{}'], 5), source);
    expect(result).toMatchObject({
      ok: true,
      event: { metadata: {}, occurredAt: new Date(1_700_000_000_123) },
    });
  });
});

describe('parseTimestamp', () => {
  it.each([
    ['2026-01-02 03:04:05+00', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02 03:04:05.5+00', '2026-01-02T03:04:05.500Z'],
    ['2026-01-02 03:04:05.123456-03:30', '2026-01-02T06:34:05.123Z'],
    ['2026-01-02 03:04:05.123456', '2026-01-02T03:04:05.123Z'],
  ])('reads %s', (text, iso) => {
    expect(parseTimestamp(text)?.toISOString()).toBe(iso);
  });

  it('returns undefined for what it cannot read', () => {
    expect(parseTimestamp('yesterday')).toBeUndefined();
    expect(parseTimestamp(null)).toBeUndefined();
  });
});

describe('commitTimeMs', () => {
  it('truncates microseconds to milliseconds exactly as bigint division does', () => {
    const values = [
      0n,
      999n,
      1000n,
      1_700_000_000_123_456n,
      1_700_000_000_123_999n,
      -1n,
      -1_001n,
      // Beyond 2^53 microseconds (the year 2255): bigint arithmetic.
      2n ** 53n + 1_999n,
      2n ** 60n + 7n,
    ];
    for (let i = 0; i < 2000; i++) values.push(1_600_000_000_000_000n + BigInt(i * 7919 * 1013));
    for (const commitTimeUs of values)
      expect(commitTimeMs({ commitTimeUs })).toBe(Number(commitTimeUs / 1000n));
  });
});
