import { TableName } from '../table-name';
import { customOption } from './option';

/** PostgreSQL identifiers the relay creates or names unquoted: lower case, no quoting needed. */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

function parseIdentifier(raw: string): string {
  const value = raw.trim();
  if (!IDENTIFIER.test(value)) throw new Error(`must be a lower-case column name, got "${raw}"`);
  return value;
}

function columnOption(env: string, fallback: string, description: string) {
  return customOption({
    env,
    group: 'Outbox',
    description,
    parse: parseIdentifier,
    default: fallback,
  });
}

function parseHeaderColumns(raw: string): Array<{ column: string; header: string }> {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  return entries.map((entry) => {
    const [column = '', header = column, ...rest] = entry.split(':').map((p) => p.trim());
    if (rest.length > 0 || !IDENTIFIER.test(column) || !/^[A-Za-z0-9._-]{1,100}$/.test(header)) {
      throw new Error(`entry "${entry}" must be column or column:header-name`);
    }
    return { column, header };
  });
}

function parseTable(raw: string): TableName {
  const parts = raw.trim().split('.');
  const [schema, name] = parts.length === 1 ? ['public', parts[0]] : parts;
  if (
    parts.length > 2 ||
    schema === undefined ||
    name === undefined ||
    !IDENTIFIER.test(schema) ||
    !IDENTIFIER.test(name)
  ) {
    throw new Error(`must be [schema.]table in lower case letters, digits and _, got "${raw}"`);
  }
  return new TableName(schema, name);
}

/** The outbox table and where it keeps what. */
export const OUTBOX_TABLE_OPTIONS = {
  outboxTable: customOption({
    env: 'OUTBOX_TABLE',
    group: 'Outbox',
    description:
      'The outbox table, `[schema.]table`. Needs the columns `id`, `aggregatetype`, `aggregateid`, `type`, `payload` (Debezium layout).',
    parse: parseTable,
    default: new TableName('public', 'outbox'),
    defaultText: '`public.outbox`',
  }),
  columnId: columnOption(
    'OUTBOX_COLUMN_ID',
    'id',
    'Column with the event id (header `id`; consumers deduplicate by it).',
  ),
  columnAggregateType: columnOption(
    'OUTBOX_COLUMN_AGGREGATE_TYPE',
    'aggregatetype',
    'Column with the aggregate type, which routes the topic (`{aggregateType}`).',
  ),
  columnAggregateId: columnOption(
    'OUTBOX_COLUMN_AGGREGATE_ID',
    'aggregateid',
    "Column with the aggregate id, the record key: one aggregate's events share a partition, in order.",
  ),
  columnType: columnOption(
    'OUTBOX_COLUMN_TYPE',
    'type',
    'Column with the event type (header `type`).',
  ),
  columnPayload: columnOption(
    'OUTBOX_COLUMN_PAYLOAD',
    'payload',
    'Column with the event body, the record value (`json`/`jsonb`, or text holding JSON). NULL makes a tombstone.',
  ),
  columnTimestamp: customOption<string | undefined>({
    env: 'OUTBOX_COLUMN_TIMESTAMP',
    group: 'Outbox',
    description:
      "Optional column (`timestamptz`) with the event's own time, used as the record timestamp; unset: the transaction's commit time.",
    parse: parseIdentifier,
    default: undefined,
    defaultText: '(commit time)',
  }),
  columnOrder: customOption<string | undefined>({
    env: 'OUTBOX_COLUMN_ORDER',
    group: 'Outbox',
    description:
      'Optional column whose value grows with commit order per aggregate, e.g. a `bigserial` or a `clock_timestamp()` default (set at insert, after the aggregate is locked; `now()` is the transaction start and is not). Orders `outbox-relay replay`, the initial backfill and gap repairs; unset: the commit time where `track_commit_timestamp` is on, else `OUTBOX_COLUMN_TIMESTAMP`, else the physical order.',
    parse: parseIdentifier,
    default: undefined,
    defaultText: '(see meaning)',
  }),
  headerColumns: customOption({
    env: 'OUTBOX_HEADER_COLUMNS',
    group: 'Outbox',
    description:
      'Optional columns copied into record headers, comma-separated `column` or `column:header-name` (e.g. `correlation_id:correlationId,causation_id`). NULL values are left out. Columns named `traceparent` and `tracestate` are always propagated as W3C trace context headers.',
    parse: parseHeaderColumns,
    default: [],
    defaultText: '(none)',
  }),
};
