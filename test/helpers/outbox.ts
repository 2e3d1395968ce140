import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { parseLsn } from '../../src/replication/lsn';
import { uniqueName } from './names';
import { testDatabaseUrl, testKafkaBrokers } from './services';

/** Names one test uses: its own table, publication, slot and topic prefix. */
export interface OutboxNames {
  table: string;
  publication: string;
  slot: string;
  topicPrefix: string;
}

export function outboxNames(prefix: string): OutboxNames {
  const base = uniqueName(prefix);
  return {
    table: `${base}_outbox`,
    publication: `${base}_pub`,
    slot: `${base}_slot`,
    topicPrefix: base,
  };
}

/** Creates an outbox table in Debezium's layout (as schemas/outbox.sql, under another name). */
export async function createOutboxTable(databaseUrl: string, table: string): Promise<void> {
  await withSql(databaseUrl, (sql) =>
    sql.query(
      `create table ${table} (id uuid primary key, aggregatetype text not null, aggregateid text not null,
                              type text not null, payload jsonb)`,
    ),
  );
}

/** Environment for a relay on the test services, with this test's names. */
export function relayEnv(
  names: OutboxNames,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: testDatabaseUrl(),
    KAFKA_BROKERS: testKafkaBrokers().join(','),
    OUTBOX_TABLE: names.table,
    SLOT_NAME: names.slot,
    PUBLICATION_NAME: names.publication,
    TOPIC_TEMPLATE: `${names.topicPrefix}.{aggregateType}`,
    RETRY_INITIAL_MS: '100',
    RETRY_MAX_MS: '2000',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    ...extra,
  };
}

export async function withSql<T>(databaseUrl: string, fn: (sql: Client) => Promise<T>): Promise<T> {
  const sql = new Client({ connectionString: databaseUrl });
  await sql.connect();
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/** Drops what a test created in the database (the slot last, after the relay let go of it). */
export async function dropOutbox(databaseUrl: string, names: OutboxNames): Promise<void> {
  await withSql(databaseUrl, async (sql) => {
    await sql.query(
      `select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null`,
      [names.slot],
    );
    for (let i = 0; i < 50; i++) {
      try {
        await sql.query(
          `select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1`,
          [names.slot],
        );
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await sql.query(`drop publication if exists ${names.publication}`);
    await sql.query(`drop table if exists ${names.table}`);
  });
}

export interface OutboxRow {
  id: string;
  aggregatetype: string;
  aggregateid: string;
  type: string;
  payload: unknown;
}

export function outboxRow(
  aggregatetype: string,
  aggregateid: string,
  type: string,
  payload: unknown,
): OutboxRow {
  return { id: randomUUID(), aggregatetype, aggregateid, type, payload };
}

/** Inserts rows in one transaction. */
export async function insertRows(sql: Client, table: string, rows: OutboxRow[]): Promise<void> {
  await sql.query('begin');
  try {
    for (const r of rows) {
      await sql.query(
        `insert into ${table} (id, aggregatetype, aggregateid, type, payload) values ($1, $2, $3, $4, $5)`,
        [
          r.id,
          r.aggregatetype,
          r.aggregateid,
          r.type,
          r.payload === null ? null : JSON.stringify(r.payload),
        ],
      );
    }
    await sql.query('commit');
  } catch (err) {
    await sql.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** The slot's confirmed_flush_lsn: how far the relay told PostgreSQL it has published. */
export async function slotConfirmedLsn(databaseUrl: string, slot: string): Promise<bigint> {
  return withSql(databaseUrl, async (sql) => {
    const { rows } = await sql.query<{ lsn: string }>(
      'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1',
      [slot],
    );
    if (rows[0] === undefined) throw new Error(`no replication slot ${slot}`);
    return parseLsn(rows[0].lsn);
  });
}

/** The server's current WAL write position. */
export async function walPosition(sql: Client): Promise<bigint> {
  const { rows } = await sql.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
  return parseLsn(rows[0]!.lsn);
}
