import type { Client } from 'pg';
import type { Config } from '../config/load';
import { RelayError } from '../errors';
import type { SlotSample } from '../ops/state';

/**
 * While streaming, a dropped outbox table or a revoked REPLICATION right does not end the stream:
 * the relay would just see nothing. This check turns those states into loud, fatal errors.
 */
export async function checkSource(sql: Client, config: Config): Promise<RelayError | undefined> {
  const { schema, name } = config.outboxTable;
  const { rows } = await sql.query<{ table_ok: boolean; slot_ok: boolean; can_replicate: boolean }>(
    `select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                     where n.nspname = $1 and c.relname = $2) as table_ok,
            exists (select 1 from pg_replication_slots where slot_name = $3) as slot_ok,
            (select rolreplication or rolsuper from pg_roles where rolname = current_user) as can_replicate`,
    [schema, name, config.slotName],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  // In table-less mode (OUTBOX_MESSAGE_PREFIX) the table is optional.
  if (!row.table_ok && config.messagePrefix === undefined) {
    return new RelayError(
      'OUTBOX_TABLE_MISSING',
      `outbox table ${config.outboxTable.qualified()} was dropped while the relay was streaming; restore it and restart the relay`,
      {
        context: { table: config.outboxTable.qualified() },
      },
    );
  }
  if (!row.slot_ok) {
    return new RelayError(
      'SLOT_DROPPED',
      `replication slot ${config.slotName} was dropped while the relay was streaming; events after its last confirmed position may be missing from Kafka`,
      {
        context: { slot: config.slotName },
      },
    );
  }
  if (!row.can_replicate) {
    return new RelayError(
      'PG_PERMISSION',
      `the relay's role lost the REPLICATION attribute; grant it again (ALTER ROLE ... WITH REPLICATION) and restart the relay`,
    );
  }
  return undefined;
}

/** The slot as the server sees it: lag, retained WAL and how safe that WAL is. */
export async function sampleSlot(sql: Client, slot: string): Promise<SlotSample | undefined> {
  const { rows } = await sql.query<{
    lag: number | null;
    retained: number | null;
    wal_status: string | null;
    safe_wal_size: number | null;
  }>(
    `select (pg_current_wal_lsn() - confirmed_flush_lsn)::float8 as lag,
            (pg_current_wal_lsn() - restart_lsn)::float8 as retained,
            wal_status, safe_wal_size::float8 as safe_wal_size
       from pg_replication_slots where slot_name = $1`,
    [slot],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    lagBytes: Math.max(row.lag ?? 0, 0),
    retainedBytes: Math.max(row.retained ?? 0, 0),
    walStatus: row.wal_status,
    safeWalBytes: row.safe_wal_size,
    at: Date.now(),
  };
}

/** Writes one heartbeat: a non-transactional logical decoding message the stream brings back. */
export async function emitHeartbeat(sql: Client, prefix: string, content: string): Promise<void> {
  await sql.query('select pg_logical_emit_message(false, $1, $2)', [prefix, content]);
}
