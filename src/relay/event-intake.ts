import type { Logger } from 'pino';
import { RelayError } from '../errors';
import { commitTimeMs, type TransactionSource } from '../events/domain-event';
import { mapMessage } from '../events/message-mapper';
import { OutboxMapper, type MappedRow, type OutboxLayout } from '../events/outbox-mapper';
import { deadLetterRecord } from '../kafka/dead-letter';
import { recordBytes, type KafkaRecord, type RecordMapper } from '../kafka/record-mapper';
import { recordOrDeadLetter, type Route, type RouteProblem } from '../kafka/route';
import { formatLsn } from '../replication/lsn';
import type {
  InsertMessage,
  LogicalMessage,
  RelationMessage,
} from '../replication/pgoutput-decoder';
import type { TableName } from '../table-name';

export interface IntakeOptions {
  table: TableName;
  layout: OutboxLayout;
  onInvalidEvent: 'dead-letter' | 'fail';
  deadLetterTopic: string;
  maxRecordBytes: number;
  /** Table-less outbox: logical decoding messages with this prefix are events. */
  messagePrefix: string | undefined;
  /** A row went to the dead-letter topic for this reason. */
  onDeadLetter(reason: string): void;
}

/** What one outbox row or message becomes: a record to publish, with its size in flight. */
export interface Intake {
  record: KafkaRecord;
  bytes: number;
}

/**
 * Event intake: an outbox row or a table-less message -> its record, or its dead-letter record,
 * or (ON_INVALID_EVENT=fail) an EVENT_INVALID error. `source` is the WAL transaction it is in.
 */
export class EventIntake {
  private readonly mapper: OutboxMapper;
  private readonly table: string;

  constructor(
    private readonly options: IntakeOptions,
    private readonly records: RecordMapper,
    private readonly log: Logger,
  ) {
    this.mapper = new OutboxMapper(options.table, options.layout);
    this.table = options.table.qualified();
  }

  /** The outbox table's layout as of now (relation messages precede its rows). */
  relation(message: RelationMessage): void {
    this.mapper.onRelation(message);
  }

  /** Whether the insert is into the outbox table. */
  isOutboxRow(message: InsertMessage): boolean {
    return this.mapper.handles(message);
  }

  /** The record for an outbox row; undefined for rows of other tables. */
  row(message: InsertMessage, source: TransactionSource, size: number): Intake | undefined {
    const mapped = this.mapper.onInsert(message, source);
    if (mapped === undefined) return undefined;
    const route = this.route(mapped, source);
    if (route.ok) return { record: route.record, bytes: Math.max(size, route.bytes) };
    const row = this.mapper.rowOf(message) ?? {};
    return this.deadLetter(source, row, this.table, route.problem, size);
  }

  /** Whether the message is a table-less event (anything else is left to the caller). */
  isEventMessage(message: LogicalMessage): boolean {
    return (
      this.options.messagePrefix !== undefined && message.prefix === this.options.messagePrefix
    );
  }

  /** The record for a transactional table-less message. */
  message(
    message: LogicalMessage,
    source: TransactionSource,
    origin: string,
    size: number,
  ): Intake {
    const prefix = this.options.messagePrefix!;
    const mapped = mapMessage(message.content, message.lsn, origin, source, prefix);
    const route = this.route(mapped, source);
    if (route.ok) return { record: route.record, bytes: Math.max(size, route.bytes) };
    const row = mapped.ok ? {} : mapped.invalid.row;
    return this.deadLetter(source, row, `message:${prefix}`, route.problem, size);
  }

  /** The event's record, or why it has none (traced when it has one). */
  private route(mapped: MappedRow, source: TransactionSource): Route {
    const route = recordOrDeadLetter(mapped, this.records, this.options.maxRecordBytes);
    if (route.ok && mapped.ok && this.log.isLevelEnabled('trace')) {
      const { event } = mapped;
      this.log.trace(
        {
          id: event.id,
          type: event.type,
          aggregateId: event.aggregateId,
          topic: route.record.topic,
          lsn: formatLsn(source.commitLsn),
        },
        'event read',
      );
    }
    return route;
  }

  private deadLetter(
    source: TransactionSource,
    row: Record<string, string | null>,
    table: string,
    problem: RouteProblem,
    size: number,
  ): Intake {
    const context = {
      reason: problem.reason,
      id: problem.eventId,
      lsn: formatLsn(source.commitLsn),
      table,
    };
    if (this.options.onInvalidEvent === 'fail') {
      throw new RelayError(
        'EVENT_INVALID',
        `${problem.message}; ON_INVALID_EVENT=fail: nothing from here on is confirmed`,
        { context },
      );
    }
    const { maxRecordBytes, deadLetterTopic } = this.options;
    const record = deadLetterRecord(
      {
        ...problem,
        row,
        table,
        commitLsn: source.commitLsn,
        xid: source.xid,
        timestamp: String(commitTimeMs(source)),
      },
      deadLetterTopic,
      maxRecordBytes,
    );
    this.log.warn({ ...context, topic: deadLetterTopic }, `dead-lettered: ${problem.message}`);
    this.options.onDeadLetter(problem.reason);
    return { record, bytes: Math.max(Math.min(size, maxRecordBytes), recordBytes(record)) };
  }
}
