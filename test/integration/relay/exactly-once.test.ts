import { KafkaServer } from '../../harness/kafka';
import { PostgresServer } from '../../harness/postgres';
import { kafkaClient, readTopic } from '../../helpers/kafka';
import { uniqueName } from '../../helpers/names';
import {
  createOutboxTable,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
  type OutboxNames,
} from '../../helpers/outbox';
import { RelayProcess, type LogLine } from '../../helpers/relay-process';
import { waitFor } from '../../helpers/wait-for';
import {
  checkDeliveries,
  committedEvents,
  prepareVersions,
  runWriters,
  versionTable,
  type WriterOptions,
} from '../../helpers/writers';

const PARTITIONS = 6;

// Kills and restarts its own PostgreSQL and Kafka, so it never disturbs tests on the shared ones.
describe('relay: exactly-once delivery', () => {
  let pg: PostgresServer;
  let kafka: KafkaServer;

  beforeAll(async () => {
    [pg, kafka] = await Promise.all([PostgresServer.start(), KafkaServer.start()]);
  });

  afterAll(async () => {
    await Promise.all([pg?.destroy(), kafka?.destroy()]);
  });

  const env = (names: OutboxNames, extra: Record<string, string> = {}) =>
    relayEnv(names, {
      DATABASE_URL: pg.url,
      KAFKA_BROKERS: kafka.brokers,
      DELIVERY_GUARANTEE: 'exactly-once',
      POSITION_TOPIC: `${names.topicPrefix}.positions`,
      TOPIC_PARTITIONS: String(PARTITIONS),
      LOG_LEVEL: 'info',
      ...extra,
    });

  const writers = (names: OutboxNames, options: Partial<WriterOptions>) =>
    runWriters({
      databaseUrl: pg.url,
      table: names.table,
      aggregateType: 'account',
      writers: 3,
      transactionsPerWriter: 100_000,
      aggregates: 200,
      maxRowsPerTransaction: 40,
      pauseMs: 30,
      ...options,
    });

  /** Every record of the test's topic as a read_committed consumer sees it (and a bit after). */
  const readAll = (names: OutboxNames, expected: number) =>
    readTopic([kafka.brokers], `${names.topicPrefix}.account`, {
      count: expected,
      timeoutMs: 90_000,
      settleMs: 3_000,
      distinctIds: expected,
    });

  const startLog = (relay: RelayProcess): Promise<LogLine> =>
    relay.waitForLog((l) => /^exactly-once: producers initialised/.test(l.msg), 'producer init');

  it('shows a read_committed consumer every event once, in order, across 11 SIGKILLs (one inside a split transaction), a broker restart and a database restart', async () => {
    const names = outboxNames('eos_crash');
    await createOutboxTable(pg.url, names.table);
    await withSql(pg.url, (sql) => prepareVersions(sql, names.table, 200));
    // Split bound: half of MAX_IN_FLIGHT_EVENTS, so the 100,000-row transaction below spreads over
    // about 1,000 Kafka transactions (several seconds: time enough to kill the relay inside it).
    const relayEnv = env(names, { MAX_IN_FLIGHT_EVENTS: '200', KAFKA_BATCH_MAX_EVENTS: '100' });
    let relay = new RelayProcess(relayEnv);
    await relay.waitUntilStreaming();
    const restart = async () => {
      relay.kill('SIGKILL');
      await relay.exited;
      relay = new RelayProcess(relayEnv);
      await relay.waitUntilStreaming();
    };
    const pause = () => new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
    let kills = 0;

    // Phase 1: writers, SIGKILLs at random moments, a broker crash, and one huge transaction.
    // Writers go on until the faults of their phase are done.
    let stopWriting = false;
    const writing: Array<Promise<number>> = [];
    try {
      const phase1 = writers(names, { durationMs: 180_000, stopWhen: () => stopWriting });
      writing.push(phase1);
      for (let i = 0; i < 3; i++, kills++) {
        await pause();
        await restart();
      }
      await kafka.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 1_500));
      await kafka.start();
      await relay.waitForLog(
        (l) => l.code === 'KAFKA_TRANSACTION' || /reconnecting/.test(l.msg),
        'a Kafka failure seen',
      );
      // Kill while the huge transaction is half published: as soon as the position topic says so.
      const positions = await watchPositions([kafka.brokers], `${names.topicPrefix}.positions`);
      try {
        await withSql(pg.url, (sql) =>
          sql.query(
            `with v as (update ${versionTable(names.table)} set v = v + 100000 where id = 'agg-1' returning v - 100000 as base)
           insert into ${names.table} (id, aggregatetype, aggregateid, type, payload)
           select gen_random_uuid(), 'account', 'agg-1', 'Changed', jsonb_build_object('aggregate', 'agg-1', 'v', v.base + g)
             from v, generate_series(1, 100000) g order by g`,
          ),
        );
        await waitFor(() => positions.partialSeen, {
          timeoutMs: 60_000,
          intervalMs: 5,
          description: 'a position inside the huge transaction',
        });
      } finally {
        await positions.stop();
      }
      await restart();
      kills++;
      const resumed = await startLog(relay);
      // The restarted relay resumed inside the split transaction, skipping what was committed.
      expect(typeof (resumed.partial as { events?: unknown } | null)?.events).toBe('number');
      for (let i = 0; i < 2; i++, kills++) {
        await pause();
        await restart();
      }
      stopWriting = true;
      await phase1;

      // Phase 2: a database crash (immediate stop), then more writers and SIGKILLs.
      await pg.restart('immediate');
      await relay.waitForLog((l) => /reconnecting/.test(l.msg), 'a reconnect after the restart');
      stopWriting = false;
      const phase2 = writers(names, { durationMs: 180_000, stopWhen: () => stopWriting });
      writing.push(phase2);
      for (let i = 0; i < 5; i++, kills++) {
        await pause();
        await restart();
      }
      stopWriting = true;
      await phase2;
    } finally {
      // A failed assertion must not leave writers running into the database's removal.
      stopWriting = true;
      await Promise.allSettled(writing);
    }

    try {
      const events = await withSql(pg.url, (sql) => committedEvents(sql, names.table));
      expect(events.length).toBeGreaterThan(100_000);
      const records = await readAll(names, events.length);
      const report = checkDeliveries(events, records, PARTITIONS);
      expect(report.missing).toEqual([]);
      expect(report.outOfOrder).toEqual([]);
      expect(report.misplaced).toEqual([]);
      expect(report.duplicates).toBe(0);
      expect(records).toHaveLength(events.length);
      expect(kills).toBe(11);
      process.stdout.write(
        `[exactly-once] ${kills} SIGKILLs, broker and database restarts: ${events.length} events, ${records.length} records, 0 duplicates\n`,
      );
    } finally {
      expect(await relay.stop()).toBe(0);
    }
    // About a minute alone; twice the default bound leaves room on a busy two-core machine.
  }, 240_000);

  it('fences a frozen active instance: after the standby took over, the woken one publishes nothing a read_committed consumer sees', async () => {
    const names = outboxNames('eos_zombie');
    await createOutboxTable(pg.url, names.table);
    await withSql(pg.url, (sql) => prepareVersions(sql, names.table, 100));
    const relayEnv = env(names, { SLOT_RETRY_INTERVAL_MS: '500', MAX_IN_FLIGHT_EVENTS: '2000' });
    const active = new RelayProcess(relayEnv);
    await active.waitUntilStreaming();
    const standby = new RelayProcess(relayEnv);
    let stopWriting = false;
    let writing: Promise<number> | undefined;
    try {
      await standby.waitForLog((l) => /waiting as a standby/.test(l.msg), 'the standby');
      // Writers go on through the freeze, the takeover and the wake-up.
      writing = writers(names, {
        writers: 2,
        aggregates: 100,
        durationMs: 180_000,
        stopWhen: () => stopWriting,
      });
      await new Promise((r) => setTimeout(r, 2_000));
      // Frozen past wal_sender_timeout: the server ends its walsender and frees the slot.
      active.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 500));
      await withSql(pg.url, (sql) =>
        sql.query(
          'select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null',
          [names.slot],
        ),
      );
      await standby.waitForLog((l) => /now active and streaming/.test(l.msg), 'takeover', 30_000);
      await new Promise((r) => setTimeout(r, 2_000));
      active.kill('SIGCONT');
      const fenced = await active.waitForLog((l) => l.code === 'KAFKA_FENCED', 'fenced', 30_000);
      expect(fenced.msg).toMatch(/fenced/);
      await new Promise((r) => setTimeout(r, 1_000));
      stopWriting = true;
      await writing;

      const events = await withSql(pg.url, (sql) => committedEvents(sql, names.table));
      const records = await readAll(names, events.length);
      const report = checkDeliveries(events, records, PARTITIONS);
      expect(report).toEqual({ missing: [], duplicates: 0, outOfOrder: [], misplaced: [] });
      expect(records).toHaveLength(events.length);
      expect((await active.metrics()).get('outbox_relay_fenced_total')).toBeGreaterThanOrEqual(1);
      // The woken instance went back to waiting; it never took the slot back.
      expect(active.running).toBe(true);
      await waitFor(async () => (await active.status()).role === 'standby', {
        timeoutMs: 20_000,
        description: 'the fenced instance waiting as a standby',
      });
    } finally {
      stopWriting = true;
      await writing?.catch(() => undefined);
      active.kill('SIGCONT'); // in case the test failed while it was frozen
      expect(await standby.stop()).toBe(0);
      expect(await active.stop()).toBe(0);
    }
  });

  it('warns and loses nothing when the position topic was deleted while the relay was stopped', async () => {
    const names = outboxNames('eos_positions');
    await createOutboxTable(pg.url, names.table);
    const rows = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        outboxRow('account', `a-${(from + i) % 5}`, 'Opened', { v: from + i }),
      );
    let relay = new RelayProcess(env(names));
    await relay.waitUntilStreaming();
    await withSql(pg.url, (sql) => insertRows(sql, names.table, rows(0, 50)));
    expect(await readAll(names, 50)).toHaveLength(50);
    expect(await relay.stop()).toBe(0);

    const admin = kafkaClient([kafka.brokers]).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [`${names.topicPrefix}.positions`] });
    await admin.disconnect();
    await withSql(pg.url, (sql) => insertRows(sql, names.table, rows(50, 30)));

    relay = new RelayProcess(env(names));
    try {
      const warning = await relay.waitForLog(
        (l) => l.level === 'warn' && /no position for this slot/.test(l.msg),
        'the missing-position warning',
      );
      expect(warning.msg).toMatch(/seen a second time/);
      const records = await readAll(names, 80);
      // A clean stop confirmed everything it published: nothing repeats, nothing is missing.
      expect(new Set(records.map((r) => r.headers.id)).size).toBe(80);
      expect(records).toHaveLength(80);
      const metrics = await relay.metrics();
      expect(metrics.get('outbox_relay_transactions_total{result="committed"}')).toBeGreaterThan(0);
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });
});

/** A read_committed consumer of the position topic, joined before it is needed. */
async function watchPositions(brokers: string[], topic: string) {
  const consumer = kafkaClient(brokers).consumer({ groupId: uniqueName('positions') });
  const state = { partialSeen: false, stop: () => consumer.disconnect() };
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      const doc = JSON.parse(message.value?.toString('utf8') ?? '{}') as {
        partialEvents?: number | null;
      };
      if (doc.partialEvents !== null && doc.partialEvents !== undefined) state.partialSeen = true;
      return Promise.resolve();
    },
  });
  return state;
}
