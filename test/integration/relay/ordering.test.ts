import {
  createOutboxTable,
  dropOutbox,
  outboxNames,
  relayEnv,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl } from '../../helpers/services';
import {
  readBackDeliveries,
  prepareVersions,
  runWriters,
  versionTable,
} from '../../helpers/writers';

describe('relay: per-aggregate order under concurrency', () => {
  const names = outboxNames('ordering');
  const url = testDatabaseUrl();

  afterAll(async () => {
    await withSql(url, (sql) => sql.query(`drop table if exists ${versionTable(names.table)}`));
    await dropOutbox(url, names);
  });

  it('delivers every aggregate in commit order, in one partition, across concurrent transactions', async () => {
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => prepareVersions(sql, names.table, 300));
    const relay = new RelayProcess(
      relayEnv(names, {
        TOPIC_PARTITIONS: '6',
        KAFKA_BATCH_MAX_EVENTS: '200',
        MAX_IN_FLIGHT_EVENTS: '1000',
      }),
    );
    try {
      await relay.waitUntilStreaming();
      const transactions = await runWriters({
        databaseUrl: url,
        table: names.table,
        aggregateType: 'account',
        writers: 4,
        transactionsPerWriter: 40,
        aggregates: 300,
        maxRowsPerTransaction: 50,
      });
      expect(transactions).toBe(160);
      const report = await readBackDeliveries(url, names.table, `${names.topicPrefix}.account`, 6, {
        timeoutMs: 90_000,
        settleMs: 2_000,
      });
      expect(report.events).toBeGreaterThan(1000);
      expect(report).toEqual({
        missing: [],
        duplicates: 0,
        outOfOrder: [],
        misplaced: [],
        events: report.events,
        records: report.events,
      });
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });
});
