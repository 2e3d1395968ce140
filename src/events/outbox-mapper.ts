import type { DeadLetterReason } from '../dead-letter-reason';
import { RelayError } from '../errors';
import type { InsertMessage, RelationMessage } from '../replication/pgoutput-decoder';
import type { TableName } from '../table-name';
import { commitTimeMs, sourceIn, type DomainEvent, type TransactionSource } from './domain-event';

/** Which outbox column holds each event field (Debezium's outbox layout by default). */
export interface OutboxColumns {
  id: string;
  aggregateType: string;
  aggregateId: string;
  type: string;
  payload: string;
}

export const DEBEZIUM_COLUMNS: Readonly<OutboxColumns> = Object.freeze({
  id: 'id',
  aggregateType: 'aggregatetype',
  aggregateId: 'aggregateid',
  type: 'type',
  payload: 'payload',
});

/** An optional column whose value becomes an event header (metadata). */
export interface HeaderColumn {
  column: string;
  header: string;
}

/** Where the outbox row keeps what: required columns, optional timestamp and header columns. */
export interface OutboxLayout {
  columns: OutboxColumns;
  /** Column with the event's own time; the commit time when absent. */
  timestamp?: string | undefined;
  headers: readonly HeaderColumn[];
  /** Further columns the routing reads (topic placeholders, key, envelope, partition). */
  fields?: readonly string[] | undefined;
}

/** W3C trace context columns travel as headers of the same name even when not configured. */
const TRACE_CONTEXT: readonly HeaderColumn[] = [
  { column: 'traceparent', header: 'traceparent' },
  { column: 'tracestate', header: 'tracestate' },
];

export const DEBEZIUM_LAYOUT: Readonly<OutboxLayout> = Object.freeze({
  columns: DEBEZIUM_COLUMNS,
  headers: [],
});

/** A row that cannot become an event, with the reason in words. */
export interface InvalidRow {
  reason: Extract<
    DeadLetterReason,
    | 'MISSING_ID'
    | 'MISSING_AGGREGATE_TYPE'
    | 'MISSING_AGGREGATE_ID'
    | 'MISSING_TYPE'
    | 'PAYLOAD_NOT_JSON'
  >;
  message: string;
  /** The row's columns as text, for the operator (and a dead-letter record). */
  row: Record<string, string | null>;
  eventId?: string | undefined;
  aggregateId?: string | undefined;
}

export type MappedRow = { ok: true; event: DomainEvent } | { ok: false; invalid: InvalidRow };

type ColumnIndexes = { [K in keyof OutboxColumns]: number };

const JSON_OID = 114;
const JSONB_OID = 3802;

/**
 * Turns pgoutput inserts into the outbox table into DomainEvents. Relation messages tell which
 * relation id is the outbox table and where its columns are; they arrive before the first row of
 * a relation in every session, and again after the table changes.
 */
export class OutboxMapper {
  private readonly relations = new Map<
    number,
    {
      indexes: ColumnIndexes;
      names: string[];
      payloadIsJson: boolean;
      timestamp: number;
      headers: Array<{ index: number; header: string }>;
      fields: Array<{ index: number; column: string }>;
    }
  >();
  private readonly qualifiedName: string;
  private readonly columns: OutboxColumns;
  private readonly headerColumns: readonly HeaderColumn[];

  constructor(
    private readonly table: TableName,
    private readonly layout: OutboxLayout = DEBEZIUM_LAYOUT,
  ) {
    this.qualifiedName = table.qualified();
    this.columns = layout.columns;
    const configured = new Set(layout.headers.map((h) => h.column));
    this.headerColumns = [
      ...layout.headers,
      ...TRACE_CONTEXT.filter((t) => !configured.has(t.column)),
    ];
  }

  onRelation(message: RelationMessage): void {
    if (message.schema !== this.table.schema || message.name !== this.table.name) {
      this.relations.delete(message.relationId);
      return;
    }
    const names = message.columns.map((c) => c.name);
    const missing: string[] = [];
    const indexOf = (column: string) => {
      const index = names.indexOf(column);
      if (index < 0) missing.push(column);
      return index;
    };
    const indexes: ColumnIndexes = {
      id: indexOf(this.columns.id),
      aggregateType: indexOf(this.columns.aggregateType),
      aggregateId: indexOf(this.columns.aggregateId),
      type: indexOf(this.columns.type),
      payload: indexOf(this.columns.payload),
    };
    if (missing.length > 0) {
      throw new RelayError(
        'OUTBOX_COLUMNS_MISSING',
        `outbox table ${this.qualifiedName} no longer has column(s) ${missing.join(', ')} ` +
          `(it has ${names.join(', ')}); restore them or configure the column names`,
        { context: { table: this.qualifiedName } },
      );
    }
    // json and jsonb columns hold valid JSON by construction; any other type is checked per row.
    const payloadType = message.columns[indexes.payload]?.typeOid;
    const payloadIsJson = payloadType === JSON_OID || payloadType === JSONB_OID;
    // Optional columns may come and go while the relay runs: absent ones are simply left out.
    const headers = this.headerColumns
      .map((h) => ({ index: names.indexOf(h.column), header: h.header }))
      .filter((h) => h.index >= 0);
    const timestamp =
      this.layout.timestamp === undefined ? -1 : names.indexOf(this.layout.timestamp);
    // A routing column that goes missing gives null values: such events are dead-lettered.
    const fields = (this.layout.fields ?? []).map((column) => ({
      index: names.indexOf(column),
      column,
    }));
    this.relations.set(message.relationId, {
      indexes,
      names,
      payloadIsJson,
      timestamp,
      headers,
      fields,
    });
  }

  /** Whether the insert is into the outbox table. */
  handles(message: InsertMessage): boolean {
    return this.relations.has(message.relationId);
  }

  /** The row's columns as text (for dead letters); undefined for other relations. */
  rowOf(message: InsertMessage): Record<string, string | null> | undefined {
    const relation = this.relations.get(message.relationId);
    if (relation === undefined) return undefined;
    const row: Record<string, string | null> = {};
    relation.names.forEach((name, i) => (row[name] = message.values.text(i)));
    return row;
  }

  /** The event for an insert into the outbox table; undefined for any other relation. */
  onInsert(message: InsertMessage, source: TransactionSource): MappedRow | undefined {
    const relation = this.relations.get(message.relationId);
    if (relation === undefined) return undefined;
    const { indexes } = relation;
    const { values } = message;
    const id = values.text(indexes.id);
    const aggregateType = values.text(indexes.aggregateType);
    const aggregateId = values.text(indexes.aggregateId);
    const type = values.text(indexes.type);
    // A copy, not a view into the chunk the message arrived in (see Tuple.copy). When pg parsed
    // the stream, a view was also wrong: pg reused its read buffer for later messages (found by
    // the crash test as corrupt JSON on the topic).
    const payload = values.copy(indexes.payload);

    const problem: readonly [InvalidRow['reason'], string] | undefined =
      firstMissing({ id, aggregateType, aggregateId, type }, this.columns) ??
      (payload !== null && !relation.payloadIsJson && !isJson(payload)
        ? (['PAYLOAD_NOT_JSON', this.columns.payload] as const)
        : undefined);
    if (problem !== undefined) {
      return {
        ok: false,
        invalid: {
          reason: problem[0],
          message:
            problem[0] === 'PAYLOAD_NOT_JSON'
              ? `outbox row in ${this.qualifiedName} has a ${problem[1]} that is not JSON`
              : `outbox row in ${this.qualifiedName} has a null or blank ${problem[1]}`,
          row: this.rowOf(message) ?? {},
          eventId: blank(id) ? undefined : id!,
          aggregateId: blank(aggregateId) ? undefined : aggregateId!,
        },
      };
    }
    const metadata: Record<string, string> = {};
    for (const { index, header } of relation.headers) {
      const value = values.text(index);
      if (value !== null) metadata[header] = value;
    }
    let fields = NO_FIELDS;
    if (relation.fields.length > 0) {
      fields = {};
      for (const { index, column } of relation.fields)
        fields[column] = index < 0 ? null : values.text(index);
    }
    const ownTime =
      relation.timestamp >= 0 ? parseTimestamp(values.text(relation.timestamp)) : undefined;
    return {
      ok: true,
      event: {
        id: id!,
        aggregateType: aggregateType!,
        aggregateId: aggregateId!,
        type: type!,
        payload,
        occurredAt: ownTime ?? new Date(commitTimeMs(source)),
        metadata,
        fields,
        source: sourceIn(source, this.qualifiedName),
      },
    };
  }
}

/**
 * PostgreSQL's text output of timestamp / timestamptz ("2026-11-23 19:51:21.123456+00"), to a
 * Date (ms precision). A timestamp without zone is taken as UTC. Undefined when unparseable.
 */
export function parseTimestamp(text: string | null): Date | undefined {
  if (text === null) return undefined;
  const match =
    /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}(?::?\d{2})?(?::\d{2})?)?$/.exec(
      text.trim(),
    );
  if (match === null) return undefined;
  const [, date, time, fraction = '', zone = '+00'] = match;
  const millis = fraction === '' ? '' : fraction.slice(0, 4).padEnd(4, '0');
  const offset = /^[+-]\d{2}$/.test(zone)
    ? `${zone}:00`
    : zone.length === 5
      ? `${zone.slice(0, 3)}:${zone.slice(3)}`
      : zone.slice(0, 6);
  const parsed = new Date(`${date}T${time}${millis}${offset}`);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

function isJson(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

type Identity = Pick<OutboxColumns, 'id' | 'aggregateType' | 'aggregateId' | 'type'>;

/** The additional fields of an event when none are configured: one shared, frozen object. */
const NO_FIELDS: Record<string, string | null> = Object.freeze({});

/**
 * The first of id, aggregate type, aggregate id and event type that is missing or blank, with the
 * reason code and the field's name as the source calls it (column or JSON key); rows and
 * table-less messages are checked alike.
 */
export function firstMissing(
  values: { [K in keyof Identity]: string | null | undefined },
  names: Identity,
): readonly [InvalidRow['reason'], string] | undefined {
  if (blank(values.id)) return ['MISSING_ID', names.id];
  if (blank(values.aggregateType)) return ['MISSING_AGGREGATE_TYPE', names.aggregateType];
  if (blank(values.aggregateId)) return ['MISSING_AGGREGATE_ID', names.aggregateId];
  if (blank(values.type)) return ['MISSING_TYPE', names.type];
  return undefined;
}

function blank(value: string | null | undefined): boolean {
  return value === null || value === undefined || value.trim() === '';
}
