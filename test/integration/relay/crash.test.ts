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

const MAX_IN_FLIGHT = 500;
const MAX_ROWS_PER_TRANSACTION = 40;
const KILLS = 4;

describe('relay: crash safety', () => {
  const names = outboxNames('crash');
  const url = testDatabaseUrl();

  afterAll(async () => {
    await withSql(url, (sql) => sql.query(`drop table if exists ${versionTable(names.table)}`));
    await dropOutbox(url, names);
  });

  it('loses nothing when SIGKILLed repeatedly under load; duplicates stay within the in-flight bound', async () => {
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => prepareVersions(sql, names.table, 200));
    const env = relayEnv(names, {
      TOPIC_PARTITIONS: '6',
      MAX_IN_FLIGHT_EVENTS: String(MAX_IN_FLIGHT),
      KAFKA_BATCH_MAX_EVENTS: '100',
      LOG_LEVEL: 'info',
    });
    let relay = new RelayProcess(env);
    await relay.waitUntilStreaming();

    let writing = true;
    const writers = runWriters({
      databaseUrl: url,
      table: names.table,
      aggregateType: 'account',
      writers: 3,
      transactionsPerWriter: 100_000,
      durationMs: 14_000,
      aggregates: 200,
      maxRowsPerTransaction: MAX_ROWS_PER_TRANSACTION,
      pauseMs: 40,
    }).finally(() => (writing = false));

    let kills = 0;
    let eventsReadBeforeKills = 0;
    while (kills < KILLS) {
      await new Promise((r) => setTimeout(r, 700 + Math.random() * 1000));
      relay.kill('SIGKILL');
      await relay.exited;
      kills++;
      relay = new RelayProcess(env);
      await relay.waitUntilStreaming();
      eventsReadBeforeKills++;
    }
    expect(writing).toBe(true); // the kills happened while the writers were still writing
    await writers;

    try {
      const report = await readBackDeliveries(url, names.table, `${names.topicPrefix}.account`, 6, {
        settleMs: 2_000,
      });
      expect(report.events).toBeGreaterThan(2000);
      expect(report.missing).toEqual([]);
      expect(report.outOfOrder).toEqual([]);
      expect(report.misplaced).toEqual([]);
      // A kill repeats at most what was in flight plus the transaction still open at that moment.
      expect(report.duplicates).toBeLessThanOrEqual(
        kills * (MAX_IN_FLIGHT + MAX_ROWS_PER_TRANSACTION),
      );
      process.stdout.write(
        `[crash] ${kills} SIGKILLs, ${report.events} events, ${report.duplicates} duplicates on Kafka\n`,
      );
    } finally {
      expect(await relay.stop()).toBe(0);
    }
    expect(eventsReadBeforeKills).toBe(KILLS);
  });
});
