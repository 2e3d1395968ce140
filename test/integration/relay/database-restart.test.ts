import { PostgresServer } from '../../harness/postgres';
import { createOutboxTable, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { prepareVersions, readBackDeliveries, runWriters } from '../../helpers/writers';

// Restarts its own PostgreSQL, so it never disturbs tests using the shared one.
describe('relay: database restarts', () => {
  let pg: PostgresServer;

  beforeAll(async () => {
    pg = await PostgresServer.start();
  });

  afterAll(async () => {
    await pg.destroy();
  });

  it.each(['fast', 'immediate'] as const)(
    'resumes after a %s restart mid-stream and loses nothing',
    async (mode) => {
      const names = outboxNames(`restart_${mode}`);
      await createOutboxTable(pg.url, names.table);
      await withSql(pg.url, (sql) => prepareVersions(sql, names.table, 50));
      const relay = new RelayProcess(
        relayEnv(names, { DATABASE_URL: pg.url, TOPIC_PARTITIONS: '3' }),
      );
      await relay.waitUntilStreaming();

      const write = () =>
        runWriters({
          databaseUrl: pg.url,
          table: names.table,
          aggregateType: 'order',
          writers: 2,
          transactionsPerWriter: 60,
          aggregates: 50,
          maxRowsPerTransaction: 10,
          pauseMs: 10,
        });
      await write();
      const restarting = pg.restart(mode);
      await restarting;
      await relay.waitForLog((l) => /reconnecting/.test(l.msg), 'a reconnect warning');
      await write();

      const report = await readBackDeliveries(pg.url, names.table, `${names.topicPrefix}.order`, 3);
      expect(report.missing).toEqual([]);
      expect(report.outOfOrder).toEqual([]);
      expect(report.misplaced).toEqual([]);
      expect(relay.running).toBe(true);
      expect(await relay.stop()).toBe(0);
    },
  );
});
