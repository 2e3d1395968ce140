import type { Config } from '../config/load';
import { quoteIdentifier } from '../table-name';

/** Which outbox rows a replay re-publishes. Every part is optional; together they narrow. */
export interface Selection {
  /** Rows whose time is at or after this. */
  from?: Date | undefined;
  /** Rows whose time is before this. */
  to?: Date | undefined;
  aggregateType?: string | undefined;
  aggregateId?: string | undefined;
  eventType?: string | undefined;
  /** A SQL predicate over the table's columns, run in a read-only transaction. */
  where?: string | undefined;
  /** At most this many rows. */
  limit?: number | undefined;
  /** Column that orders the rows (default: see OUTBOX_COLUMN_ORDER). */
  orderBy?: string | undefined;
}

/** How the selection reads: the row filter with its parameters, and the order. */
export interface SelectionSql {
  /** `where ...` (never empty: `where true`). */
  where: string;
  params: unknown[];
  /** `order by ...`. */
  orderBy: string;
  /** What orders the rows, in words, for the summary. */
  orderedBy: string;
}

/**
 * The SQL for a selection. The time of a row is the configured timestamp column
 * (OUTBOX_COLUMN_TIMESTAMP), else its transaction's commit time when `track_commit_timestamp` is
 * on; a time range needs one of the two. Values are bound parameters; `where` is the user's own
 * predicate, bracketed so it cannot change the rest of the statement.
 */
export function selectionSql(
  config: Config,
  selection: Selection,
  trackCommitTimestamp: boolean,
): SelectionSql {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const column = (name: string) => `t.${quoteIdentifier(name)}`;
  const time =
    config.columnTimestamp !== undefined
      ? column(config.columnTimestamp)
      : trackCommitTimestamp
        ? 'pg_xact_commit_timestamp(t.xmin)'
        : undefined;
  if ((selection.from !== undefined || selection.to !== undefined) && time === undefined) {
    throw new Error(
      '--from and --to need the row time: set OUTBOX_COLUMN_TIMESTAMP, or turn on track_commit_timestamp (its commit times start when it is turned on)',
    );
  }
  if (selection.from !== undefined) conditions.push(`${time} >= ${param(selection.from)}`);
  if (selection.to !== undefined) conditions.push(`${time} < ${param(selection.to)}`);
  if (selection.aggregateType !== undefined)
    conditions.push(`${column(config.columnAggregateType)} = ${param(selection.aggregateType)}`);
  if (selection.aggregateId !== undefined)
    conditions.push(`${column(config.columnAggregateId)} = ${param(selection.aggregateId)}`);
  if (selection.eventType !== undefined)
    conditions.push(`${column(config.columnType)} = ${param(selection.eventType)}`);
  if (selection.where !== undefined) conditions.push(`(${selection.where})`);
  const where = `where ${conditions.length === 0 ? 'true' : conditions.join(' and ')}`;
  const order = selection.orderBy ?? config.columnOrder;
  if (order !== undefined)
    return {
      where,
      params,
      orderBy: `order by ${column(order)}, t.ctid`,
      orderedBy: `column ${order}`,
    };
  if (trackCommitTimestamp)
    return {
      where,
      params,
      orderBy: 'order by pg_xact_commit_timestamp(t.xmin), t.ctid',
      orderedBy: 'commit time (track_commit_timestamp)',
    };
  if (config.columnTimestamp !== undefined)
    return {
      where,
      params,
      orderBy: `order by ${column(config.columnTimestamp)}, t.ctid`,
      orderedBy: `column ${config.columnTimestamp}`,
    };
  // A sequential scan returns the physical order by itself (the caller turns off synchronized
  // scans, which could start mid-table): no sort of the whole table before the first row.
  return { where, params, orderBy: '', orderedBy: 'physical order (ctid)' };
}
