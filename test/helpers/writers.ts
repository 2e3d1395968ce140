import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { readTopic, type ConsumedRecord } from './kafka';
import { javaPartition } from './java-partitioner';
import { testKafkaBrokers } from './services';

/**
 * Concurrent "services" writing outbox rows. Each event carries its aggregate's version, taken
 * from a per-aggregate counter row that the transaction updates: the row lock serialises
 * transactions touching one aggregate, so version order is that aggregate's commit order.
 */
export interface WriterOptions {
  databaseUrl: string;
  table: string;
  aggregateType: string;
  writers: number;
  transactionsPerWriter: number;
  aggregates: number;
  maxRowsPerTransaction: number;
  /** Pause between a writer's transactions, to spread writes over time. */
  pauseMs?: number;
  /** Stop starting transactions after this long (the transaction count is then a maximum). */
  durationMs?: number;
  /** Stop starting transactions once this returns true (checked before each transaction). */
  stopWhen?: () => boolean;
}

export function versionTable(table: string): string {
  return `${table}_versions`;
}

export async function prepareVersions(
  sql: Client,
  table: string,
  aggregates: number,
): Promise<void> {
  await sql.query(`create table ${versionTable(table)} (id text primary key, v int not null)`);
  await sql.query(
    `insert into ${versionTable(table)} select 'agg-' || g, 0 from generate_series(1, $1) g`,
    [aggregates],
  );
}

/** Runs the writers to completion; returns how many transactions committed. */
export async function runWriters(options: WriterOptions): Promise<number> {
  let committed = 0;
  const deadline = options.durationMs === undefined ? Infinity : Date.now() + options.durationMs;
  const writer = async (seed: number) => {
    const sql = new Client({ connectionString: options.databaseUrl });
    sql.on('error', () => undefined);
    await sql.connect();
    let random = seed * 7919 + 17;
    const next = (n: number) => {
      random = (random * 1103515245 + 12345) % 2147483648;
      return random % n;
    };
    try {
      for (
        let t = 0;
        t < options.transactionsPerWriter && Date.now() < deadline && !options.stopWhen?.();
        t++
      ) {
        const rows = 1 + next(options.maxRowsPerTransaction);
        // Sorted aggregates: transactions lock counter rows in one global order, so no deadlocks.
        const picks = Array.from({ length: rows }, () => 1 + next(options.aggregates)).sort(
          (a, b) => a - b,
        );
        await sql.query('begin');
        for (const pick of picks) {
          await sql.query(
            `with v as (update ${versionTable(options.table)} set v = v + 1 where id = $2 returning v)
             insert into ${options.table} (id, aggregatetype, aggregateid, type, payload)
             select $1, $3, $2, 'Changed', jsonb_build_object('aggregate', $2::text, 'v', v.v) from v`,
            [randomUUID(), `agg-${pick}`, options.aggregateType],
          );
        }
        await sql.query('commit');
        committed++;
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
    } finally {
      await sql.end().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: options.writers }, (_, i) => writer(i + 1)));
  return committed;
}

export interface CommittedEvent {
  id: string;
  aggregateId: string;
  version: number;
}

/** The ground truth: every event the database committed (the table is never emptied here). */
export async function committedEvents(sql: Client, table: string): Promise<CommittedEvent[]> {
  const { rows } = await sql.query<{ id: string; aggregateid: string; v: number }>(
    `select id::text, aggregateid, (payload->>'v')::int as v from ${table}`,
  );
  return rows.map((r) => ({ id: r.id, aggregateId: r.aggregateid, version: r.v }));
}

export interface DeliveryReport {
  missing: string[];
  duplicates: number;
  /** Aggregates whose first deliveries are not versions 1..n in offset order. */
  outOfOrder: string[];
  /** Aggregates spread over more than one partition, or not on the Java client's partition. */
  misplaced: string[];
}

/** Compares what Kafka holds with what the database committed. */
export function checkDeliveries(
  events: CommittedEvent[],
  records: ConsumedRecord[],
  partitions: number,
): DeliveryReport {
  const sorted = [...records].sort(
    (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
  const seen = new Set<string>();
  const firstVersions = new Map<string, number[]>();
  const partitionsOf = new Map<string, Set<number>>();
  let duplicates = 0;
  for (const record of sorted) {
    const id = record.headers.id ?? '';
    const key = record.key ?? '';
    if (!partitionsOf.has(key)) partitionsOf.set(key, new Set());
    partitionsOf.get(key)!.add(record.partition);
    if (seen.has(id)) {
      duplicates++;
      continue;
    }
    seen.add(id);
    const { v } = JSON.parse(record.value?.toString() ?? '{}') as { v: number };
    if (!firstVersions.has(key)) firstVersions.set(key, []);
    firstVersions.get(key)!.push(v);
  }
  const missing = events.filter((e) => !seen.has(e.id)).map((e) => e.id);
  const outOfOrder = [...firstVersions]
    .filter(([, versions]) => versions.some((v, i) => v !== i + 1))
    .map(([key]) => key);
  const misplaced = [...partitionsOf]
    .filter(([key, set]) => set.size !== 1 || !set.has(javaPartition(key, partitions)))
    .map(([key]) => key);
  return { missing, duplicates, outOfOrder, misplaced };
}

/** A delivery report with the counts it was made from. */
export interface DeliveryReadBack extends DeliveryReport {
  /** Events committed to the table. */
  events: number;
  /** Records read from the topic (duplicates included). */
  records: number;
}

/**
 * Every event committed to `table`, read back from `topic` until each id was seen (duplicates
 * allowed; after that, `settleMs` more to catch late extra records), compared with what the
 * database committed.
 */
export async function readBackDeliveries(
  databaseUrl: string,
  table: string,
  topic: string,
  partitions: number,
  { timeoutMs = 60_000, settleMs = 1_000 }: { timeoutMs?: number; settleMs?: number } = {},
): Promise<DeliveryReadBack> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  let events: CommittedEvent[];
  try {
    events = await committedEvents(client, table);
  } finally {
    await client.end();
  }
  const records = await readTopic(testKafkaBrokers(), topic, {
    count: events.length,
    timeoutMs,
    distinctIds: events.length,
    settleMs,
  });
  return {
    ...checkDeliveries(events, records, partitions),
    events: events.length,
    records: records.length,
  };
}
