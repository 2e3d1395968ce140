import { randomUUID } from 'node:crypto';
import { readTopic } from '../../helpers/kafka';
import { dropOutbox, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

type Row = {
  tenant: string | null;
  account: string | null;
  shard: number | null;
  region: string | null;
  payload: string | null;
};

// Routing by column, as Debezium's Outbox Event Router does it: topic from any column, key from
// another column, additional columns as header, envelope member or partition.
describe('relay: routing by outbox columns', () => {
  const url = testDatabaseUrl();
  const brokers = testKafkaBrokers();

  it('routes topic, key, partition, headers and envelope by columns; dead-letters what cannot be routed', async () => {
    const names = outboxNames('routing');
    const p = names.topicPrefix;
    const dlq = `${p}.dlq`;
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (id uuid primary key, aggregatetype text not null, aggregateid text not null,
                                      type text not null, payload jsonb, tenant text, account text, shard int, region text)`,
      ),
    );
    const relay = new RelayProcess(
      relayEnv(names, {
        TOPIC_TEMPLATE: `${p}.{tenant}.{aggregateType}`,
        OUTBOX_KEY_COLUMN: 'account',
        OUTBOX_ADDITIONAL_FIELDS: 'region:header:x-region,tenant:envelope:tenantId,shard:partition',
        TOPIC_PARTITIONS: '3',
        DEAD_LETTER_TOPIC: dlq,
      }),
    );
    try {
      await relay.waitUntilStreaming();
      const rows: Array<[id: string, row: Row]> = [
        // partition 2 by column, key a-1, header, envelope
        [
          randomUUID(),
          { tenant: 'acme', account: 'a-1', shard: 2, region: 'eu', payload: '{"n": 1}' },
        ],
        // no shard: the key's partition; no region: no header
        [
          randomUUID(),
          { tenant: 'globex', account: 'g-1', shard: null, region: null, payload: '{"n": 2}' },
        ],
        // no account: a record without a key
        [
          randomUUID(),
          { tenant: 'acme', account: null, shard: 0, region: 'us', payload: '{"n": 3}' },
        ],
        // a null payload stays a tombstone (no envelope)
        [randomUUID(), { tenant: 'acme', account: 'a-1', shard: 2, region: 'eu', payload: null }],
        // dead letters: no tenant, a tenant that is no legal topic name, a partition the topic lacks
        [
          randomUUID(),
          { tenant: null, account: 'a-2', shard: 1, region: 'eu', payload: '{"n": 5}' },
        ],
        [
          randomUUID(),
          { tenant: 'bad tenant', account: 'a-3', shard: 1, region: 'eu', payload: '{"n": 6}' },
        ],
        [
          randomUUID(),
          { tenant: 'acme', account: 'a-4', shard: 7, region: 'eu', payload: '{"n": 7}' },
        ],
      ];
      await withSql(url, async (sql) => {
        for (const [id, r] of rows) {
          await sql.query(
            `insert into ${names.table} values ($1, 'order', 'order-1', 'Placed', $2, $3, $4, $5, $6)`,
            [id, r.payload, r.tenant, r.account, r.shard, r.region],
          );
        }
      });
      const acme = await readTopic(brokers, `${p}.acme.order`, { count: 3, settleMs: 1000 });
      const globex = await readTopic(brokers, `${p}.globex.order`, { count: 1, settleMs: 500 });
      const byId = new Map([...acme, ...globex].map((r) => [r.headers.id, r]));
      expect(byId.size).toBe(4);

      const first = byId.get(rows[0]![0])!;
      expect(first).toMatchObject({ partition: 2, key: 'a-1' });
      expect(first.headers['x-region']).toBe('eu');
      expect(first.value!.toString()).toBe('{"payload":{"n": 1},"tenantId":"acme"}');

      const second = byId.get(rows[1]![0])!;
      expect(second.key).toBe('g-1');
      expect(second.headers['x-region']).toBeUndefined();
      expect(second.value!.toString()).toBe('{"payload":{"n": 2},"tenantId":"globex"}');

      const third = byId.get(rows[2]![0])!;
      expect(third).toMatchObject({ partition: 0, key: null });

      const tombstone = byId.get(rows[3]![0])!;
      expect(tombstone).toMatchObject({ partition: 2, key: 'a-1', value: null });

      const letters = await readTopic(brokers, dlq, { count: 3, settleMs: 1000 });
      const reasons = new Map(letters.map((l) => [l.headers['dlq.event.id'], l.headers]));
      expect(reasons.get(rows[4]![0])).toMatchObject({ 'dlq.reason': 'INVALID_TOPIC' });
      expect(reasons.get(rows[4]![0])!['dlq.message']).toContain('{tenant} has no value');
      expect(reasons.get(rows[5]![0])).toMatchObject({ 'dlq.reason': 'INVALID_TOPIC' });
      expect(reasons.get(rows[5]![0])!['dlq.message']).toContain(`"${p}.bad tenant.order"`);
      expect(reasons.get(rows[6]![0])).toMatchObject({
        'dlq.reason': 'INVALID_PARTITION',
        'dlq.intended.topic': `${p}.acme.order`,
      });
      expect(reasons.get(rows[6]![0])!['dlq.message']).toContain('partition 7 is outside');
      expect(await relay.stop()).toBe(0);
      // Each dead letter is logged once with its reason, wherever it was found.
      expect(relay.logs.filter((l) => /^dead-lettered/.test(l.msg)).map((l) => l.reason)).toEqual(
        expect.arrayContaining(['INVALID_TOPIC', 'INVALID_TOPIC', 'INVALID_PARTITION']),
      );
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
    }
  });

  it('refuses to start when a routing column is not in the outbox table', async () => {
    const names = outboxNames('routing_missing');
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (id uuid primary key, aggregatetype text not null, aggregateid text not null,
                                      type text not null, payload jsonb)`,
      ),
    );
    const relay = new RelayProcess(
      relayEnv(names, { TOPIC_TEMPLATE: `${names.topicPrefix}.{tenant}.{aggregateType}` }),
    );
    try {
      expect(await relay.exited).toBe(1);
      const fatal = relay.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('OUTBOX_COLUMNS_MISSING');
      expect(fatal?.msg).toContain('tenant');
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
    }
  });

  it('routes table-less messages by their members the same way', async () => {
    const names = outboxNames('routing_msg');
    const p = names.topicPrefix;
    const relay = new RelayProcess(
      relayEnv(names, {
        OUTBOX_TABLE: `${names.table}_absent`,
        OUTBOX_MESSAGE_PREFIX: p,
        TOPIC_TEMPLATE: `${p}.{tenantId}.{aggregateType}`,
        OUTBOX_KEY_COLUMN: 'accountId',
      }),
    );
    try {
      await relay.waitUntilStreaming();
      await withSql(url, (sql) =>
        sql.query(
          `select pg_logical_emit_message(true, $1, '{"aggregateType": "cart", "aggregateId": "c-1", "type": "Added", "tenantId": "initech", "accountId": "acc-7", "payload": {"sku": "A"}}')`,
          [p],
        ),
      );
      const [record] = await readTopic(brokers, `${p}.initech.cart`, { count: 1 });
      expect(record).toMatchObject({ key: 'acc-7' });
      expect(record!.value!.toString()).toBe('{"sku": "A"}');
      expect(await relay.stop()).toBe(0);
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
    }
  });
});
