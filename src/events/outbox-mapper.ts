import { RelayError } from '../errors';
import type { InsertMessage, RelationMessage } from '../replication/pgoutput-decoder';
import type { DomainEvent, EventSource } from './domain-event';

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

export interface OutboxTable {
  schema: string;
  name: string;
}

/** A row that cannot become an event, with the reason in words. */
export interface InvalidRow {
  reason: 'MISSING_ID' | 'MISSING_AGGREGATE_TYPE' | 'MISSING_AGGREGATE_ID' | 'MISSING_TYPE';
  message: string;
  /** The row's columns as text, for the operator (and a dead-letter record). */
  row: Record<string, string | null>;
}

export type MappedRow = { ok: true; event: DomainEvent } | { ok: false; invalid: InvalidRow };

type ColumnIndexes = { [K in keyof OutboxColumns]: number };

/**
 * Turns pgoutput inserts into the outbox table into DomainEvents. Relation messages tell which
 * relation id is the outbox table and where its columns are; they arrive before the first row of
 * a relation in every session, and again after the table changes.
 */
export class OutboxMapper {
  private readonly relations = new Map<number, { indexes: ColumnIndexes; names: string[] }>();
  private readonly qualifiedName: string;

  constructor(
    private readonly table: OutboxTable,
    private readonly columns: OutboxColumns = DEBEZIUM_COLUMNS,
  ) {
    this.qualifiedName = `${table.schema}.${table.name}`;
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
    this.relations.set(message.relationId, { indexes, names });
  }

  /** The event for an insert into the outbox table; undefined for any other relation. */
  onInsert(message: InsertMessage, source: Omit<EventSource, 'table'>): MappedRow | undefined {
    const relation = this.relations.get(message.relationId);
    if (relation === undefined) return undefined;
    const { indexes } = relation;
    const text = (index: number): string | null => {
      const value = message.values[index];
      return Buffer.isBuffer(value) ? value.toString('utf8') : null;
    };
    const id = text(indexes.id);
    const aggregateType = text(indexes.aggregateType);
    const aggregateId = text(indexes.aggregateId);
    const type = text(indexes.type);
    const payloadValue = message.values[indexes.payload];
    // Copy: the decoded value is a view into the connection's read buffer, which pg reuses for
    // later messages while this event still waits for Kafka (found by the crash test as corrupt
    // JSON on the topic).
    const payload = Buffer.isBuffer(payloadValue) ? Buffer.from(payloadValue) : null;

    const problem = blank(id)
      ? (['MISSING_ID', this.columns.id] as const)
      : blank(aggregateType)
        ? (['MISSING_AGGREGATE_TYPE', this.columns.aggregateType] as const)
        : blank(aggregateId)
          ? (['MISSING_AGGREGATE_ID', this.columns.aggregateId] as const)
          : blank(type)
            ? (['MISSING_TYPE', this.columns.type] as const)
            : undefined;
    if (problem !== undefined) {
      const row: Record<string, string | null> = {};
      relation.names.forEach((name, i) => (row[name] = text(i)));
      return {
        ok: false,
        invalid: {
          reason: problem[0],
          message: `outbox row in ${this.qualifiedName} has a null or blank ${problem[1]}`,
          row,
        },
      };
    }
    return {
      ok: true,
      event: {
        id: id!,
        aggregateType: aggregateType!,
        aggregateId: aggregateId!,
        type: type!,
        payload,
        occurredAt: new Date(Number(source.commitTimeUs / 1000n)),
        metadata: {},
        source: { ...source, table: this.qualifiedName },
      },
    };
  }
}

function blank(value: string | null): boolean {
  return value === null || value.trim() === '';
}
