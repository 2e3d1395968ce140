import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Client, FieldDef } from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/load';
import { AtLeastOnceDelivery } from '../delivery/at-least-once';
import type { RelayError } from '../errors';
import type { RecordMapper } from '../kafka/record-mapper';
import { Tuple, type RelationMessage } from '../replication/pgoutput-decoder';
import { withDatabase } from '../relay/database';
import { EventIntake } from '../relay/event-intake';
import { outboxLayout } from '../relay/from-config';
import { sleep } from '../retry/backoff';
import { selectionSql, type Selection } from './selection';

/** Header on every replayed record: the replay run's id, so consumers can tell replays apart. */
export const REPLAY_HEADER = 'outbox.replay';

/** Rows fetched per round trip: memory stays bounded whatever the selection's size. */
const PAGE_ROWS = 1_000;

export interface ReplayOptions {
  /** Count and show the first rows; publish nothing. */
  dryRun: boolean;
  /** At most this many events per second (undefined: as fast as Kafka takes them). */
  maxRate?: number | undefined;
  /** Aborting stops reading; what was read is still published, then the run ends. */
  signal: AbortSignal;
  /** Mark records with REPLAY_HEADER (true unless given); a first publication is not marked. */
  markReplayed?: boolean;
  /** Read in this exported snapshot (SNAPSHOT_MODE=initial); `onImported` once it is. */
  snapshot?: { name: string; onImported(): Promise<void> } | undefined;
  /** Called about once a second while publishing. */
  onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayProgress {
  selected: number;
  published: number;
  deadLettered: number;
  elapsedMs: number;
}

export interface ReplayResult extends ReplayProgress {
  runId: string;
  orderedBy: string;
  /** Dry run: the first rows, as text. */
  sample: Array<Record<string, string | null>>;
  /** The run was interrupted before everything selected was read. */
  interrupted: boolean;
}

/** Whatever SQL returns, as text: the relay maps text exactly as pgoutput sends it. */
const AS_TEXT = { getTypeParser: () => (value: string) => value };

/**
 * Re-publishes outbox rows still in the table: selected by `selection`, read in one read-only
 * snapshot through a cursor (bounded memory), mapped exactly as live streaming maps them (same
 * event id, topic, key, partition, headers, value format) plus the REPLAY_HEADER, and sent with
 * an idempotent producer. Rows that cannot become records are dead-lettered as live. Does not
 * touch the replication slot.
 */
export async function replay(
  config: Config,
  records: RecordMapper,
  selection: Selection,
  options: ReplayOptions,
  kafka: () => Kafka,
  log: Logger,
): Promise<ReplayResult> {
  const runId = `${new Date().toISOString()}/${randomUUID().slice(0, 8)}`;
  const started = Date.now();
  return withDatabase(config.databaseUrl, async (sql) => {
    const { rows: settings } = await sql.query<{ on: boolean }>(
      `select current_setting('track_commit_timestamp') = 'on' as on`,
    );
    const tracked = settings[0]?.on === true;
    const query = selectionSql(config, selection, tracked);
    const table = config.outboxTable.quoted();
    // One snapshot for the whole run: rows committed meanwhile are not half in it.
    await sql.query('begin isolation level repeatable read read only');
    if (options.snapshot !== undefined) {
      await sql.query(`set transaction snapshot '${options.snapshot.name.replace(/'/g, "''")}'`);
      await options.snapshot.onImported();
    }
    await sql.query('set local synchronize_seqscans = off');
    const { rows: counted } = await sql.query<{ n: string }>(
      `select count(*) as n from ${table} t ${query.where}`,
      query.params,
    );
    const total = Number(counted[0]?.n ?? 0);
    const selected = selection.limit === undefined ? total : Math.min(total, selection.limit);
    log.info(
      { selected, orderedBy: query.orderedBy, ms: Date.now() - started },
      'replay: rows selected',
    );
    const limit = selection.limit === undefined ? '' : ` limit ${selection.limit}`;
    const result: ReplayResult = {
      runId,
      orderedBy: query.orderedBy,
      selected,
      published: 0,
      deadLettered: 0,
      elapsedMs: 0,
      sample: [],
      interrupted: false,
    };
    if (options.dryRun) {
      const { rows } = await sql.query<Record<string, string | null>>({
        text: `select t.* from ${table} t ${query.where} ${query.orderBy} limit ${Math.min(5, selected)}`,
        values: query.params,
        types: AS_TEXT,
      });
      result.sample = rows;
      await sql.query('rollback');
      return result;
    }
    const commitTime = tracked
      ? `(extract(epoch from pg_xact_commit_timestamp(t.xmin)) * 1000000)::bigint::text`
      : 'null';
    await sql.query(
      `declare replay_rows no scroll cursor for
         select t.xmin::text as "__xmin", ${commitTime} as "__commit_us", t.*
           from ${table} t ${query.where} ${query.orderBy}${limit}`,
      query.params,
    );
    await publishRows(sql, config, records, options, kafka, log, result, started);
    await sql.query('rollback');
    result.elapsedMs = Date.now() - started;
    return result;
  });
}

async function publishRows(
  sql: Client,
  config: Config,
  records: RecordMapper,
  options: ReplayOptions,
  kafka: () => Kafka,
  log: Logger,
  result: ReplayResult,
  started: number,
): Promise<void> {
  let inFlight = 0;
  let fatal: RelayError | undefined;
  let wake: (() => void) | undefined;
  const woken = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const delivery = new AtLeastOnceDelivery<number>(
    kafka(),
    config,
    {
      onAcked: (tokens) => {
        inFlight -= tokens.length;
        result.published += tokens.length;
        woken();
      },
      onFatal: (error) => {
        fatal ??= error;
        woken();
      },
      onSessionFailed: (error) => {
        fatal ??= error;
        woken();
      },
      onRetry: (error) => log.warn({ code: error.code }, `replay: ${error.message}; retrying`),
      onDeadLetter: () => result.deadLettered++,
    },
    log,
    records,
  );
  await delivery.connect();
  const intake = new EventIntake(
    {
      table: config.outboxTable,
      layout: outboxLayout(config),
      onInvalidEvent: config.onInvalidEvent,
      deadLetterTopic: config.deadLetterTopic,
      maxRecordBytes: config.kafkaMaxRecordBytes,
      messagePrefix: undefined,
      onDeadLetter: () => result.deadLettered++,
    },
    records,
    log.child({ module: 'replay' }),
  );
  try {
    const { sink } = await delivery.openSession();
    let lastProgress = Date.now();
    // --max-rate paces from the first row on: counted from the run's start, the time spent
    // connecting and counting would be sent at once, as a burst, when the rows begin.
    let pacedFrom: number | undefined;
    let relation: RelationMessage | undefined;
    for (;;) {
      if (options.signal.aborted) {
        result.interrupted = true;
        break;
      }
      const page = await sql.query<unknown[]>({
        text: `fetch ${PAGE_ROWS} from replay_rows`,
        rowMode: 'array',
        types: AS_TEXT,
      });
      if (page.rows.length === 0) break;
      if (relation === undefined) {
        relation = relationOf(config, page.fields.slice(2));
        intake.relation(relation);
      }
      for (const row of page.rows) {
        const [xmin, commitUs, ...values] = row as Array<string | null>;
        const size = values.reduce((sum, v) => sum + (v?.length ?? 0), 0);
        const intaken = intake.row(
          {
            tag: 'insert',
            relationId: relation.relationId,
            values: Tuple.of(values.map(toBuffer)),
          },
          {
            xid: Number(xmin),
            commitLsn: 0n,
            commitTimeUs:
              commitUs === null || commitUs === undefined
                ? BigInt(Date.now()) * 1000n
                : BigInt(commitUs),
          },
          size,
        )!;
        if (options.markReplayed !== false) intaken.record.headers[REPLAY_HEADER] = result.runId;
        inFlight++;
        sink.enqueue(intaken.record, intaken.bytes, 1, { commitLsn: 0n, index: 0 });
        while (inFlight >= config.maxInFlightEvents && fatal === undefined)
          await new Promise<void>((resolve) => (wake = resolve));
        if (fatal !== undefined) throw fatal;
        if (options.maxRate !== undefined) {
          pacedFrom ??= Date.now();
          const due = pacedFrom + ((result.published + inFlight - 1) / options.maxRate) * 1000;
          if (due > Date.now()) await sleep(due - Date.now(), options.signal);
        }
        if (Date.now() - lastProgress >= 1000) {
          lastProgress = Date.now();
          options.onProgress?.({ ...result, elapsedMs: lastProgress - started });
        }
      }
    }
    await sink.whenIdle();
    if (fatal !== undefined) throw fatal;
  } finally {
    await delivery.disconnect();
  }
}

const toBuffer = (value: string | null): Buffer | null =>
  value === null ? null : Buffer.from(value, 'utf8');

/** The outbox table as pgoutput would describe it, from the query's columns. */
function relationOf(config: Config, fields: readonly FieldDef[]): RelationMessage {
  return {
    tag: 'relation',
    relationId: 1,
    schema: config.outboxTable.schema,
    name: config.outboxTable.name,
    replicaIdentity: 'd',
    columns: fields.map((f) => ({
      name: f.name,
      typeOid: f.dataTypeID,
      typeModifier: -1,
      partOfKey: false,
    })),
  };
}
