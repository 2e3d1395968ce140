import type { Client } from 'pg';
import type { Logger } from 'pino';
import { RelayError } from '../errors';
import { quoteIdentifier as quote, type TableName } from '../table-name';
import type { SlotWithSnapshot } from './exported-snapshot';
import { parseLsn, type Lsn } from './lsn';

export interface PreflightOptions {
  table: TableName;
  /** Columns the table must have. */
  columns: readonly string[];
  publicationName: string;
  slotName: string;
  /** Create the slot if missing: true on first start; afterwards a missing slot means loss. */
  createSlot: boolean;
  /**
   * A slot PostgreSQL invalidated (`wal_status = lost`, max_slot_wal_keep_size) is dropped and
   * created anew, so the caller handles the gap (ON_SLOT_GAP replay or warn); otherwise it is
   * left for START_REPLICATION to refuse (SLOT_INVALID).
   */
  replaceLostSlot?: boolean;
  /** Creates the missing slot together with an exported snapshot (SNAPSHOT_MODE=initial). */
  createSlotWithSnapshot?: (() => Promise<SlotWithSnapshot>) | undefined;
  /** Table-less outbox: the table may be absent (events come as logical decoding messages). */
  tableOptional: boolean;
}

export interface SlotState {
  confirmedFlushLsn: Lsn;
  activePid: number | null;
  /** True when this preflight created the slot. */
  created?: boolean;
  /** PostgreSQL invalidated the slot (`wal_status = lost`): it can no longer stream. */
  lost?: boolean;
  /** The snapshot exported with the new slot (SNAPSHOT_MODE=initial); release it when imported. */
  snapshot?: SlotWithSnapshot;
}

/**
 * Checks that the database can feed the relay and creates what is missing, in the only safe order:
 * publication before slot (a slot created first would decode changes with no publication to
 * filter them, and pgoutput fails on a missing publication). Every failure says how to fix it.
 */
export async function preflight(
  sql: Client,
  options: PreflightOptions,
  log: Logger,
): Promise<SlotState> {
  const qualified = options.table.qualified();
  const fqTable = options.table.quoted();

  const { rows: server } = await sql.query<{
    wal_level: string;
    version: string;
    role: string;
    can_replicate: boolean;
  }>(
    `select current_setting('wal_level') as wal_level, current_setting('server_version') as version,
            current_user as role, (r.rolreplication or r.rolsuper) as can_replicate
       from pg_roles r where r.rolname = current_user`,
  );
  const info = server[0];
  if (info === undefined)
    throw new RelayError('PG_PERMISSION', 'cannot read the current role from pg_roles');
  if (info.wal_level !== 'logical') {
    throw new RelayError(
      'PG_WAL_LEVEL',
      `wal_level is '${info.wal_level}', logical decoding needs 'logical': run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL`,
    );
  }
  if (!info.can_replicate) {
    throw new RelayError(
      'PG_PERMISSION',
      `role ${info.role} may not use replication: run ALTER ROLE ${quote(info.role)} WITH REPLICATION (as a superuser)`,
      { context: { role: info.role } },
    );
  }

  const { rows: columns } = await sql.query<{ attname: string }>(
    `select a.attname from pg_attribute a
       join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')
        and a.attnum > 0 and not a.attisdropped`,
    [options.table.schema, options.table.name],
  );
  const tableless = columns.length === 0 && options.tableOptional;
  if (columns.length === 0 && !tableless) {
    throw new RelayError(
      'OUTBOX_TABLE_MISSING',
      `outbox table ${qualified} does not exist: create it (schemas/outbox.sql has the default layout) or point OUTBOX_TABLE at yours`,
      { context: { table: qualified } },
    );
  }
  const have = new Set(columns.map((c) => c.attname));
  const missing = tableless ? [] : options.columns.filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new RelayError(
      'OUTBOX_COLUMNS_MISSING',
      `outbox table ${qualified} lacks column(s) ${missing.join(', ')} (it has ${[...have].join(', ')})`,
      { context: { table: qualified } },
    );
  }

  const { rows: publications } = await sql.query<{ pubinsert: boolean; has_table: boolean }>(
    `select p.pubinsert, exists (select 1 from pg_publication_tables t
             where t.pubname = p.pubname and t.schemaname = $2 and t.tablename = $3) as has_table
       from pg_publication p where p.pubname = $1`,
    [options.publicationName, options.table.schema, options.table.name],
  );
  const publication = publications[0];
  // Without a table, the publication exists only because pgoutput needs one; messages pass anyway.
  const createPublication = tableless
    ? `CREATE PUBLICATION ${quote(options.publicationName)} WITH (publish = 'insert')`
    : `CREATE PUBLICATION ${quote(options.publicationName)} FOR TABLE ${fqTable} WITH (publish = 'insert')`;
  if (publication === undefined) {
    try {
      await sql.query(createPublication);
    } catch (err) {
      throw new RelayError(
        'PG_PERMISSION',
        `cannot create publication ${options.publicationName}: ${(err as Error).message}. Create it as the table owner: ${createPublication}`,
        { cause: err },
      );
    }
    log.info({ publication: options.publicationName, table: qualified }, 'created publication');
  } else if (!tableless && (!publication.has_table || !publication.pubinsert)) {
    throw new RelayError(
      'PUBLICATION_INVALID',
      `publication ${options.publicationName} exists but does not publish inserts into ${qualified}: ` +
        `run ALTER PUBLICATION ${quote(options.publicationName)} ADD TABLE ${fqTable} and ` +
        `ALTER PUBLICATION ${quote(options.publicationName)} SET (publish = 'insert'), or choose another PUBLICATION_NAME`,
    );
  }

  let slot = await readSlot(sql, options.slotName);
  if (slot?.lost === true && options.createSlot && options.replaceLostSlot === true) {
    log.warn(
      { slot: options.slotName },
      'replication slot was invalidated by PostgreSQL (wal_status = lost): dropping it and creating a new one; the events in between are a slot gap',
    );
    await sql.query('select pg_drop_replication_slot($1)', [options.slotName]);
    slot = undefined;
  }
  if (slot === undefined) {
    if (!options.createSlot) {
      throw new RelayError(
        'SLOT_DROPPED',
        `replication slot ${options.slotName} disappeared while the relay was using it; events after its last confirmed position may be missing from Kafka. Investigate, then restart the relay (it creates a new slot from the current WAL position)`,
        { context: { slot: options.slotName } },
      );
    }
    if (options.createSlotWithSnapshot !== undefined) {
      const snapshot = await options.createSlotWithSnapshot();
      return { confirmedFlushLsn: snapshot.lsn, activePid: null, created: true, snapshot };
    }
    const { rows } = await sql.query<{ lsn: string }>(
      `select lsn::text as lsn from pg_create_logical_replication_slot($1, 'pgoutput')`,
      [options.slotName],
    );
    log.info({ slot: options.slotName, lsn: rows[0]?.lsn }, 'created replication slot');
    return { confirmedFlushLsn: parseLsn(rows[0]?.lsn ?? '0/0'), activePid: null, created: true };
  }
  return slot;
}

/** The slot's confirmed position and holder, or undefined if it does not exist. */
export async function readSlot(sql: Client, slotName: string): Promise<SlotState | undefined> {
  const { rows } = await sql.query<{
    plugin: string | null;
    slot_type: string;
    same_db: boolean;
    confirmed: string | null;
    active_pid: number | null;
    wal_status: string | null;
  }>(
    `select plugin, slot_type, database = current_database() as same_db,
            confirmed_flush_lsn::text as confirmed, active_pid, wal_status
       from pg_replication_slots where slot_name = $1`,
    [slotName],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  if (row.slot_type !== 'logical' || row.plugin !== 'pgoutput') {
    throw new RelayError(
      'SLOT_INVALID',
      `replication slot ${slotName} exists but is a ${row.slot_type} slot with plugin ${row.plugin ?? 'none'}; the relay needs a logical pgoutput slot: choose another SLOT_NAME or drop that slot if nothing uses it`,
      { context: { slot: slotName } },
    );
  }
  if (!row.same_db) {
    throw new RelayError(
      'SLOT_INVALID',
      `replication slot ${slotName} belongs to another database; choose another SLOT_NAME`,
      { context: { slot: slotName } },
    );
  }
  return {
    confirmedFlushLsn: parseLsn(row.confirmed ?? '0/0'),
    activePid: row.active_pid,
    ...(row.wal_status === 'lost' ? { lost: true } : {}),
  };
}
