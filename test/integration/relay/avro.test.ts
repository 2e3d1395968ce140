import { join } from 'node:path';
import { javaPartition } from '../../helpers/java-partitioner';
import { readTopic } from '../../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

const SCHEMAS = join(__dirname, '..', '..', '..', 'schemas', 'avro');
// The Java Avro library's single-object encoding of this payload (see the unit test).
const JAVA_SINGLE_OBJECT = 'c301c553d80ef5e18b50106d656d6265722d3106616461020248';

describe('relay: VALUE_FORMAT=avro', () => {
  const names = outboxNames('avro');
  const url = testDatabaseUrl();

  afterAll(async () => {
    await dropOutbox(url, names);
  });

  it('encodes payloads with the event type schema and dead-letters what does not fit', async () => {
    await createOutboxTable(url, names.table);
    const dlq = `${names.topicPrefix}.dlq`;
    const relay = new RelayProcess(
      relayEnv(names, { VALUE_FORMAT: 'avro', AVRO_SCHEMA_DIR: SCHEMAS, DEAD_LETTER_TOPIC: dlq }),
    );
    await relay.waitUntilStreaming();
    const good = outboxRow('member', 'member-1', 'MemberCreated', {
      id: 'member-1',
      name: 'ada',
      tier: 'gold',
      age: 36,
    });
    const invalid = outboxRow('member', 'member-2', 'MemberCreated', {
      id: 'member-2',
      name: 'bob',
      tier: 'platinum',
    });
    const unknown = outboxRow('member', 'member-3', 'MemberDeleted', { id: 'member-3' });
    const tombstone = outboxRow('member', 'member-1', 'MemberCreated', null);
    await withSql(url, (sql) => insertRows(sql, names.table, [good, invalid, unknown, tombstone]));

    const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.member`, {
      count: 2,
      settleMs: 1000,
    });
    expect(records.map((r) => r.headers.id)).toEqual([good.id, tombstone.id]);
    expect(records[0]!.value!.toString('hex')).toBe(JAVA_SINGLE_OBJECT);
    expect(records.map((r) => r.partition)).toEqual([
      javaPartition('member-1', 6),
      javaPartition('member-1', 6),
    ]);
    expect(records[0]!.headers).toMatchObject({
      'avro.schema': 'demo.member.MemberCreated',
      type: 'MemberCreated',
    });
    expect(records[1]!.value).toBeNull();

    const letters = await readTopic(testKafkaBrokers(), dlq, { count: 2, settleMs: 500 });
    // Different keys, so possibly different partitions: compare without order.
    expect(
      letters
        .map((r) => [r.headers['dlq.event.id'], r.headers['dlq.reason']])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    ).toEqual([
      [unknown.id, 'NO_SCHEMA'],
      [invalid.id, 'PAYLOAD_INVALID'],
    ]);
    expect(await relay.stop()).toBe(0);
  });

  it('failsOnInvalidSchemas at start-up with exit code 2', async () => {
    const relay = new RelayProcess(
      relayEnv(outboxNames('avro_bad'), {
        VALUE_FORMAT: 'avro',
        AVRO_SCHEMA_DIR: join(SCHEMAS, 'missing'),
      }),
    );
    expect(await relay.exited).toBe(2);
    expect(relay.stderr).toContain('AVRO_SCHEMA_DIR');
  });
});
