import { readTopic } from '../../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  outboxNames,
  relayEnv,
  withSql,
  type OutboxNames,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';
import { waitFor } from '../../helpers/wait-for';

const ROWS = 200_000;
/** A guard, generous on purpose; exact memory figures belong to the benchmarks. */
const PEAK_RSS_LIMIT = 300 * 1024 * 1024;

describe('relay: one big transaction', () => {
  const url = testDatabaseUrl();
  const made: OutboxNames[] = [];

  afterAll(async () => {
    for (const names of made) await dropOutbox(url, names);
  });

  // Exactly-once splits the transaction over Kafka transactions (at most half of
  // MAX_IN_FLIGHT_EVENTS each) and must still publish every row once.
  it.each(['at-least-once', 'exactly-once'] as const)(
    `streams ${ROWS} rows of one transaction with bounded memory (%s)`,
    async (guarantee) => {
      const names = outboxNames(guarantee === 'exactly-once' ? 'bigtxn_eos' : 'bigtxn');
      made.push(names);
      await createOutboxTable(url, names.table);
      const relay = new RelayProcess(
        relayEnv(names, {
          TOPIC_PARTITIONS: '3',
          LOG_LEVEL: 'info',
          DELIVERY_GUARANTEE: guarantee,
          POSITION_TOPIC: `${names.topicPrefix}.positions`,
        }),
      );
      await relay.waitUntilStreaming();
      await withSql(url, (sql) =>
        sql.query(
          `insert into ${names.table} (id, aggregatetype, aggregateid, type, payload)
         select gen_random_uuid(), 'bulk', 'agg-' || (g % 1000), 'Imported',
                jsonb_build_object('n', g, 'filler', repeat('x', 200))
           from generate_series(1, $1) g`,
          [ROWS],
        ),
      );
      let peak = 0;
      const sampler = setInterval(() => {
        if (relay.running) peak = Math.max(peak, relay.peakRss());
      }, 200);
      try {
        // The slot confirms the transaction only after Kafka acknowledged all its rows.
        await waitFor(
          () =>
            withSql(url, async (sql) => {
              const { rows } = await sql.query<{ done: boolean }>(
                `select confirmed_flush_lsn >= pg_current_wal_lsn() as done from pg_replication_slots where slot_name = $1`,
                [names.slot],
              );
              return rows[0]?.done === true;
            }),
          {
            timeoutMs: 150_000,
            intervalMs: 500,
            description: 'the slot to confirm the whole transaction',
          },
        );
        peak = Math.max(peak, relay.peakRss());
      } finally {
        clearInterval(sampler);
      }
      const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.bulk`, {
        count: ROWS,
        timeoutMs: 120_000,
        // Exactly-once: also wait a little for records that must not be there.
        settleMs: guarantee === 'exactly-once' ? 2_000 : 0,
      });
      expect(records).toHaveLength(ROWS);
      expect(new Set(records.map((r) => r.headers.id)).size).toBe(ROWS);
      process.stdout.write(
        `[big-transaction] ${guarantee}: ${ROWS} rows, relay peak RSS ${(peak / 1048576).toFixed(0)} MiB\n`,
      );
      expect(peak).toBeLessThan(PEAK_RSS_LIMIT);
      // Memory stayed bounded because reading paused at the in-flight bounds, as the metrics say.
      const metrics = await relay.metrics();
      expect(metrics.get('outbox_relay_flow_control_pauses_total')).toBeGreaterThan(0);
      expect(metrics.get('outbox_relay_flow_control_paused_seconds_total')).toBeGreaterThan(0);
      expect(await relay.stop()).toBe(0);
    },
    300_000,
  );
});
