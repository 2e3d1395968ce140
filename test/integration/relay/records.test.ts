import { javaPartition } from '../../helpers/java-partitioner';
import { readTopic } from '../../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  slotConfirmedLsn,
  walPosition,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';
import { waitFor } from '../../helpers/wait-for';

// Keys whose partitions (of 3) the Java client computes as shown (see the unit test's vectors).
const JAVA_PARTITIONS: Record<string, number> = {
  'order-42': 0,
  foobar: 0,
  'a-little-bit-long-string': 2,
  'customer:7f9c0a3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b': 1,
};

describe('relay: the records consumers see', () => {
  const names = outboxNames('records');
  const url = testDatabaseUrl();
  let relay: RelayProcess;

  beforeAll(async () => {
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => sql.query(`create table ${names.table}_other (id int, note text)`));
    relay = new RelayProcess(relayEnv(names, { TOPIC_PARTITIONS: '3' }));
    await relay.waitUntilStreaming();
  });

  afterAll(async () => {
    expect(await relay.stop()).toBe(0);
    await withSql(url, (sql) => sql.query(`drop table if exists ${names.table}_other`));
    await dropOutbox(url, names);
  });

  it('publishes each outbox insert once, to the right topic, key, partition, headers and value', async () => {
    const orders = Object.keys(JAVA_PARTITIONS).map((key, i) =>
      outboxRow('order', key, i % 2 === 0 ? 'OrderCreated' : 'OrderShipped', {
        n: i,
        note: 'ünïcode ✓',
      }),
    );
    const members = [outboxRow('member', 'member-1', 'MemberCreated', { id: 'member-1' })];
    const tombstone = outboxRow('member', 'member-1', 'MemberDeleted', null);
    await withSql(url, async (sql) => {
      await insertRows(sql, names.table, orders.slice(0, 2));
      await insertRows(sql, names.table, [...orders.slice(2), ...members]);
      // Rows of other tables in the same transaction are not published.
      await sql.query('begin');
      await sql.query(`insert into ${names.table}_other values (1, 'not an event')`);
      await sql.query(
        `insert into ${names.table} (id, aggregatetype, aggregateid, type, payload) values ($1, 'member', 'member-1', 'MemberDeleted', null)`,
        [tombstone.id],
      );
      await sql.query('commit');
    });

    const orderRecords = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.order`, {
      count: orders.length,
      timeoutMs: 20_000,
      settleMs: 1500,
    });
    const memberRecords = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.member`, {
      count: 2,
      timeoutMs: 10_000,
      settleMs: 1500,
    });

    expect(orderRecords).toHaveLength(orders.length);
    for (const row of orders) {
      const record = orderRecords.find((r) => r.headers.id === row.id);
      expect(record).toBeDefined();
      expect(record!.key).toBe(row.aggregateid);
      expect(record!.partition).toBe(JAVA_PARTITIONS[row.aggregateid]);
      expect(record!.partition).toBe(javaPartition(row.aggregateid, 3));
      expect(record!.headers).toEqual({ id: row.id, type: row.type, aggregateType: 'order' });
      expect(JSON.parse(record!.value!.toString())).toEqual(row.payload);
    }
    expect(
      memberRecords.map((r): unknown[] => [
        r.key,
        r.headers.type,
        r.value === null ? null : (JSON.parse(r.value.toString()) as unknown),
      ]),
    ).toEqual([
      ['member-1', 'MemberCreated', { id: 'member-1' }],
      ['member-1', 'MemberDeleted', null],
    ]);
  });

  it('confirms WAL of unrelated tables while the outbox is idle, so the slot does not hold it', async () => {
    const target = await withSql(url, async (sql) => {
      for (let i = 0; i < 20; i++)
        await sql.query(`insert into ${names.table}_other values ($1, 'busy elsewhere')`, [i]);
      return walPosition(sql);
    });
    await waitFor(() => slotConfirmedLsn(url, names.slot).then((lsn) => lsn >= target), {
      timeoutMs: 30_000,
      intervalMs: 250,
      description: 'the slot to confirm past the unrelated writes',
    });
  });

  it('uses the commit time as record timestamp', async () => {
    const row = outboxRow('clock', 'c-1', 'Ticked', {});
    const before = Date.now();
    await withSql(url, (sql) => insertRows(sql, names.table, [row]));
    const after = Date.now();
    const [record] = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.clock`, {
      count: 1,
    });
    expect(Number(record!.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    expect(Number(record!.timestamp)).toBeLessThanOrEqual(after + 1000);
  });

  it('publishes insert-then-delete rows and ignores updates and deletes', async () => {
    const kept = outboxRow('ledger', 'l-1', 'Posted', { amount: 1 });
    const transient = outboxRow('ledger', 'l-1', 'Posted', { amount: 2 });
    await withSql(url, async (sql) => {
      await insertRows(sql, names.table, [kept]);
      await sql.query('begin');
      await sql.query(
        `insert into ${names.table} (id, aggregatetype, aggregateid, type, payload) values ($1, 'ledger', 'l-1', 'Posted', '{"amount": 2}')`,
        [transient.id],
      );
      await sql.query(`delete from ${names.table} where id = $1`, [transient.id]);
      await sql.query('commit');
      await sql.query(`update ${names.table} set type = 'Changed' where id = $1`, [kept.id]);
      await sql.query(`delete from ${names.table} where id = $1`, [kept.id]);
    });
    const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.ledger`, {
      count: 2,
      timeoutMs: 10_000,
      settleMs: 1500,
    });
    expect(records.map((r) => r.headers.id)).toEqual([kept.id, transient.id]);
    expect(records.map((r) => r.headers.type)).toEqual(['Posted', 'Posted']);
  });
});
