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

describe('relay: VALUE_FORMAT=cloudevents', () => {
  const names = outboxNames('cloudevents');
  const url = testDatabaseUrl();

  afterAll(async () => {
    await dropOutbox(url, names);
  });

  it('writes CloudEvents 1.0 in binary content mode with every required attribute', async () => {
    await createOutboxTable(url, names.table);
    const relay = new RelayProcess(relayEnv(names, { VALUE_FORMAT: 'cloudevents' }));
    await relay.waitUntilStreaming();
    const row = outboxRow('shipment', 'sh-1', 'ShipmentDispatched', { carrier: 'acme' });
    const before = Date.now();
    await withSql(url, (sql) => insertRows(sql, names.table, [row]));
    const [record] = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.shipment`, {
      count: 1,
    });
    expect(record).toBeDefined();
    expect(record!.key).toBe('sh-1');
    expect(record!.partition).toBe(javaPartition('sh-1', 6)); // TOPIC_PARTITIONS default
    expect(Number(record!.timestamp)).toBe(Date.parse(record!.headers.ce_time!));
    const { ce_time: time, ...headers } = record!.headers;
    expect(headers).toEqual({
      ce_specversion: '1.0',
      ce_id: row.id,
      ce_source: `/outbox-relay/postgres/public.${names.table}`,
      ce_type: 'ShipmentDispatched',
      ce_subject: 'sh-1',
      'content-type': 'application/json',
    });
    expect(Date.parse(time!)).toBeGreaterThanOrEqual(before - 1000);
    expect(JSON.parse(record!.value!.toString())).toEqual({ carrier: 'acme' });
    expect(await relay.stop()).toBe(0);
  });
});
