import { readTopic } from '../../helpers/kafka';
import { dropOutbox, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';
import {
  readBackDeliveries,
  prepareVersions,
  runWriters,
  versionTable,
} from '../../helpers/writers';

describe('relay: SNAPSHOT_MODE=initial', () => {
  const names = outboxNames('snapshot');
  const url = testDatabaseUrl();

  afterAll(async () => {
    await withSql(url, (sql) => sql.query(`drop table if exists ${versionTable(names.table)}`));
    await dropOutbox(url, names);
  });

  it('publishes rows written before, during and after the slot was created: each once, in order per aggregate', async () => {
    // seq: set at insert, after the writer locked the aggregate's version row, so per aggregate
    // it grows with commit order (what OUTBOX_COLUMN_ORDER needs).
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (id uuid primary key, aggregatetype text not null, aggregateid text not null,
                                      type text not null, payload jsonb, seq bigserial)`,
      ),
    );
    await withSql(url, (sql) => prepareVersions(sql, names.table, 50));
    const writers = (durationMs: number) =>
      runWriters({
        databaseUrl: url,
        table: names.table,
        aggregateType: 'account',
        writers: 3,
        transactionsPerWriter: 100_000,
        durationMs,
        aggregates: 50,
        maxRowsPerTransaction: 10,
        pauseMs: 5,
      });
    // Before: rows that only the backfill can publish.
    await writers(2_000);
    // During and after: writers keep committing while the relay creates its slot, backfills and
    // starts streaming.
    const during = writers(8_000);
    await new Promise((r) => setTimeout(r, 500));
    const relay = new RelayProcess(
      relayEnv(names, {
        SNAPSHOT_MODE: 'initial',
        OUTBOX_COLUMN_ORDER: 'seq',
        TOPIC_PARTITIONS: '6',
        POSITION_TOPIC: `${names.topicPrefix}.positions`,
        LOG_LEVEL: 'info',
      }),
    );
    try {
      await relay.waitUntilStreaming();
      const backfilled = relay.logs.find((l) => /initial backfill done/.test(l.msg));
      expect(backfilled?.published).toBeGreaterThan(0);
      await during;
      const report = await readBackDeliveries(url, names.table, `${names.topicPrefix}.account`, 6, {
        settleMs: 2_000,
      });
      expect(report.missing).toEqual([]);
      expect(report.duplicates).toBe(0);
      expect(report.outOfOrder).toEqual([]);
      expect(report.misplaced).toEqual([]);
      process.stdout.write(
        `[snapshot] ${report.events} events: ${String(backfilled?.published)} backfilled, the rest streamed, 0 duplicates\n`,
      );
    } finally {
      expect(await relay.stop()).toBe(0);
    }
    // Not a first start any more: no second backfill.
    const again = new RelayProcess(
      relayEnv(names, {
        SNAPSHOT_MODE: 'initial',
        POSITION_TOPIC: `${names.topicPrefix}.positions`,
      }),
    );
    await again.waitUntilStreaming();
    expect(again.logs.some((l) => /SNAPSHOT_MODE=initial/.test(l.msg))).toBe(false);
    expect(await again.stop()).toBe(0);
  });

  it('repeats an initial backfill that a SIGKILL interrupted: every row on Kafka', async () => {
    const killed = outboxNames('snapshot_kill');
    const env = relayEnv(killed, {
      SNAPSHOT_MODE: 'initial',
      POSITION_TOPIC: `${killed.topicPrefix}.positions`,
      LOG_LEVEL: 'info',
    });
    try {
      await withSql(url, async (sql) => {
        await sql.query(
          `create table ${killed.table} (id uuid primary key, aggregatetype text not null, aggregateid text not null,
                                        type text not null, payload jsonb)`,
        );
        await sql.query(
          `insert into ${killed.table} select gen_random_uuid(), 'ledger', 'l-' || (g % 100), 'Booked', jsonb_build_object('n', g)
             from generate_series(1, 100000) g`,
        );
      });
      const first = new RelayProcess(env);
      await first.waitForLog(
        (l) => /publishing the rows already in the outbox table/.test(l.msg),
        'the backfill to start',
      );
      // Killed once part of the backfill is on Kafka.
      await readTopic(testKafkaBrokers(), `${killed.topicPrefix}.ledger`, {
        count: 1_000,
        settleMs: 0,
      });
      first.kill('SIGKILL');
      await first.exited;
      expect(first.logs.some((l) => /initial backfill done/.test(l.msg))).toBe(false);

      const second = new RelayProcess(env);
      await second.waitUntilStreaming(120_000);
      expect(second.logs.some((l) => /did not finish before the relay stopped/.test(l.msg))).toBe(
        true,
      );
      const records = await readTopic(testKafkaBrokers(), `${killed.topicPrefix}.ledger`, {
        count: 100_000,
        timeoutMs: 90_000,
        settleMs: 1_000,
        distinctIds: 100_000,
      });
      expect(new Set(records.map((r) => r.headers.id)).size).toBe(100_000);
      expect(records.length).toBeGreaterThan(100_000); // the first, interrupted backfill's share
      process.stdout.write(
        `[snapshot] SIGKILL during the backfill: 100000 rows, ${records.length - 100_000} published twice\n`,
      );
      expect(await second.stop()).toBe(0);
    } finally {
      await dropOutbox(url, killed);
    }
  });
});
