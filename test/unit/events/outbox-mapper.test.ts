import { OutboxMapper } from '../../../src/events/outbox-mapper';
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
    const mapper = new OutboxMapper({ schema: 'public', name: 'outbox' });
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
        source: { ...source, table: 'public.outbox' },
      },
    });
  });

  it('canFindColumnsInAnyOrderAndIgnoreExtraColumns', () => {
    const mapper = new OutboxMapper({ schema: 'public', name: 'outbox' });
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
    const mapper = new OutboxMapper({ schema: 'public', name: 'outbox' });
    mapper.onRelation(relation());
    const bytes = B.insert(1, ['e', 'a', 'b', 'T', '{"v": 1}']);
    const result = mapper.onInsert(decodePgoutput(bytes) as InsertMessage, source);
    bytes.fill(0x7a); // pg reuses its read buffer for the next messages
    expect(result?.ok === true && result.event.payload?.toString()).toBe('{"v": 1}');
  });

  it('ignoresOtherTables', () => {
    const mapper = new OutboxMapper({ schema: 'public', name: 'outbox' });
    mapper.onRelation(relation(COLUMNS, 'orders', 2));
    expect(mapper.onInsert(insert(['a', 'b', 'c', 'd', 'e'], 2), source)).toBeUndefined();
  });

  it('keepsANullPayloadAsNull', () => {
    const mapper = new OutboxMapper({ schema: 'public', name: 'outbox' });
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
    const mapper = new OutboxMapper({ schema: 'public', name: 'outbox' });
    mapper.onRelation(relation());
    const result = mapper.onInsert(insert(values), source);
    expect(result).toMatchObject({ ok: false, invalid: { reason } });
    expect(result?.ok === false && result.invalid.message).toContain(`blank ${column}`);
  });

  it('failsWhenTheTableLosesARequiredColumn', () => {
    const mapper = new OutboxMapper({ schema: 'public', name: 'outbox' });
    try {
      mapper.onRelation(relation(COLUMNS.filter(([c]) => c !== 'aggregateid')));
      throw new Error('expected an error');
    } catch (err) {
      expect(isRelayError(err, 'OUTBOX_COLUMNS_MISSING')).toBe(true);
    }
  });
});
