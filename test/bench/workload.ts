import type { Client } from 'pg';
import { kafkaClient } from '../helpers/kafka';
import { withSql } from '../helpers/outbox';
import { waitFor } from '../helpers/wait-for';

/** Padding that brings each event's JSON payload to about 300 bytes. */
const PAD = 232;

/**
 * Server-side generator: `events` outbox rows in transactions of `perTxn` rows, `aggregates`
 * aggregate ids, committed one transaction at a time (a procedure may COMMIT in its loop).
 */
const FILL_PROCEDURE = `
CREATE OR REPLACE PROCEDURE bench_fill(tbl text, events int, per_txn int, aggregates int, first int)
LANGUAGE plpgsql AS $$
DECLARE i int := 0;
BEGIN
  WHILE i < events LOOP
    EXECUTE format(
      'INSERT INTO %s (id, aggregatetype, aggregateid, type, payload)
       SELECT gen_random_uuid(), ''bench'', ''agg-'' || ((g + $1) %% $2), ''BenchEvent'',
              jsonb_build_object(''seq'', g + $1, ''name'', ''member-'' || (g + $1), ''pad'', repeat(''x'', ${PAD}))
       FROM generate_series($3, $4) g', tbl)
      USING first, aggregates, i, least(i + per_txn, events) - 1;
    COMMIT;
    i := i + per_txn;
  END LOOP;
END $$`;

export interface BenchTable {
  table: string;
  publication: string;
  /** Topic the relay publishes to (TOPIC_TEMPLATE `${table}.{aggregateType}` -> `${table}.bench`). */
  topic: string;
  slots: string[];
}

/** Outbox table, its publication, and one pgoutput slot per reader: all before any data. */
export async function createBenchTable(
  url: string,
  name: string,
  readers: string[],
): Promise<BenchTable> {
  const bench: BenchTable = {
    table: name,
    publication: `${name}_pub`,
    topic: `${name}.bench`,
    slots: readers.map((r) => `${name}_${r}`),
  };
  await withSql(url, async (sql) => {
    await sql.query(FILL_PROCEDURE);
    await sql.query(
      `create table ${name} (id uuid primary key, aggregatetype text not null,
        aggregateid text not null, type text not null, payload jsonb)`,
    );
    await sql.query(
      `create publication ${bench.publication} for table ${name} with (publish = 'insert')`,
    );
    for (const slot of bench.slots)
      await sql.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  });
  return bench;
}

/** Writes the events and returns the WAL position after the last commit record. */
export async function fill(
  url: string,
  table: string,
  events: number,
  perTxn: number,
  aggregates: number,
): Promise<string> {
  return withSql(url, async (sql) => {
    await sql.query('set synchronous_commit = off');
    await sql.query('call bench_fill($1, $2, $3, $4, 0)', [table, events, perTxn, aggregates]);
    // The insert position: the end of the last commit record. pg_current_wal_lsn() is the WAL
    // *write* position, which with synchronous_commit off may still be short of the commit: for
    // a 1,000,000-row transaction it fell inside the transaction, and a relay that had (rightly)
    // confirmed a keepalive's position inside it looked as if it had confirmed the end with none
    // of the records published.
    const { rows } = await sql.query<{ lsn: string }>(
      'select pg_current_wal_insert_lsn()::text as lsn',
    );
    return rows[0]!.lsn;
  });
}

/** Drops slots, publication and table of a workload. */
export async function dropBenchTable(url: string, bench: BenchTable): Promise<void> {
  await withSql(url, async (sql) => {
    for (const slot of bench.slots) {
      await waitFor(
        async () => {
          const { rows } = await sql.query<{ active: boolean }>(
            'select active from pg_replication_slots where slot_name = $1',
            [slot],
          );
          return rows[0]?.active !== true;
        },
        { timeoutMs: 30_000, description: `slot ${slot} to be released` },
      );
      await sql.query(
        'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1',
        [slot],
      );
    }
    await sql.query(`drop publication if exists ${bench.publication}`);
    await sql.query(`drop table if exists ${bench.table}`);
  });
}

/** The walsender serving `slot` (its active pid), if one does. */
export async function walsenderPid(url: string, slot: string): Promise<number | undefined> {
  return withSql(url, async (sql) => {
    const { rows } = await sql.query<{ pid: number | null }>(
      'select active_pid as pid from pg_replication_slots where slot_name = $1',
      [slot],
    );
    return rows[0]?.pid ?? undefined;
  });
}

export async function confirmedAtLeast(sql: Client, slot: string, lsn: string): Promise<boolean> {
  const { rows } = await sql.query<{ done: boolean }>(
    'select confirmed_flush_lsn >= $2::pg_lsn as done from pg_replication_slots where slot_name = $1',
    [slot, lsn],
  );
  return rows[0]?.done === true;
}

/** Creates a topic with the relay's default 6 partitions and waits for its leaders. */
export async function createTopic(brokers: string, topic: string): Promise<void> {
  const admin = kafkaClient([brokers]).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Records on a topic so far (sum of its partitions' end offsets; 0 before it exists). */
export async function topicRecords(brokers: string, topic: string): Promise<number> {
  const admin = kafkaClient([brokers]).admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, o) => sum + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}
