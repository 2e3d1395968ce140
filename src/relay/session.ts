import type { Logger } from 'pino';
import { AckTracker, type TrackedTransaction } from '../ack/ack-tracker';
import { RelayError } from '../errors';
import { OutboxMapper, type OutboxLayout } from '../events/outbox-mapper';
import type { TableName } from '../table-name';
import { isPublished, type PublishedPosition } from '../ack/published-position';
import type { EventSink } from '../delivery/delivery';
import { recordBytes } from '../kafka/record-mapper';
import type { KafkaRecord, RecordMapper } from '../kafka/record-mapper';
import { deadLetterRecord } from '../kafka/dead-letter';
import { routeEvent, type RouteProblem } from '../kafka/route';
import { mapMessage } from '../events/message-mapper';
import type { MappedRow } from '../events/outbox-mapper';
import { HEARTBEAT_PREFIX } from '../ops/heartbeat';
import { formatLsn, type Lsn } from '../replication/lsn';
import {
  decodePgoutput,
  type InsertMessage,
  type LogicalMessage,
} from '../replication/pgoutput-decoder';
import { pgTimestampToUnixMicros, type ReplicationMessage } from '../replication/protocol';
import type { ReplicationStream } from '../replication/replication-stream';

/** What the publisher carries for each event, to find its way back to its transaction. */
export interface EventToken {
  session: StreamSession;
  txn: TrackedTransaction;
  bytes: number;
  topic: string;
  /** Commit time of the event's transaction (ms since the epoch), for the latency metric. */
  commitTimeMs: number;
}

export interface SessionOptions {
  table: TableName;
  layout: OutboxLayout;
  maxInFlightEvents: number;
  maxInFlightBytes: number;
  onInvalidEvent: 'dead-letter' | 'fail';
  deadLetterTopic: string;
  maxRecordBytes: number;
  /** Table-less outbox: logical decoding messages with this prefix are events. */
  messagePrefix: string | undefined;
  /** A heartbeat message (prefix HEARTBEAT_PREFIX) came back through the stream. */
  onHeartbeat(content: string): void;
  /** A row went to the dead-letter topic for this reason. */
  onDeadLetter(reason: string): void;
}

interface OpenTransaction {
  xid: number;
  commitLsn: Lsn;
  commitTimeUs: bigint;
  tracked: TrackedTransaction;
  /** Events met so far in this transaction, published or skipped: the next event's index. */
  events: number;
  /** Events handed to the sink. */
  enqueued: number;
}

/**
 * One replication connection's worth of streaming: decodes pgoutput, turns outbox inserts into
 * records for the sink, applies back-pressure, and confirms what Kafka acknowledged. A new
 * session (after a reconnect) starts from the slot's confirmed position with fresh state; acks
 * that arrive for an ended session are ignored. Until `start` hands it a sink, the session holds
 * the stream paused and keeps what already arrived.
 */
export class StreamSession {
  private readonly tracker: AckTracker;
  private readonly mapper: OutboxMapper;
  private open: OpenTransaction | undefined;
  private inFlightEvents = 0;
  private inFlightBytes = 0;
  private lastSentLsn: Lsn = -1n;
  private stream: ReplicationStream | undefined;
  private ended = false;
  private reading = true;
  private failure: RelayError | undefined;
  private failureListener: ((err: RelayError) => void) | undefined;
  private sink: EventSink<EventToken> | undefined;
  /** Exactly-once: what is already on Kafka; those events are skipped. */
  private published: PublishedPosition | undefined;
  /** Messages that arrived before `start`, handled when it is called. */
  private held: ReplicationMessage[] | undefined = [];
  /** Events skipped as already on Kafka (exactly-once, after a restart), in this session. */
  eventsSkipped = 0;
  /** Events read in this session, for logs. */
  eventsRead = 0;
  /** When the stream last delivered anything (data or keepalive), ms since the epoch. */
  lastReceivedAt = Date.now();

  constructor(
    startLsn: Lsn,
    private readonly options: SessionOptions,
    private readonly records: RecordMapper,
    private readonly log: Logger,
  ) {
    this.tracker = new AckTracker(startLsn);
    this.mapper = new OutboxMapper(options.table, options.layout);
  }

  get confirmed(): Lsn {
    return this.tracker.confirmed;
  }

  get inFlight(): { events: number; bytes: number } {
    return { events: this.inFlightEvents, bytes: this.inFlightBytes };
  }

  /** True while reading is paused for back-pressure (or shutdown). */
  get isPaused(): boolean {
    return this.stream?.isPaused === true;
  }

  /** The stream this session reads; set before its first message arrives. */
  attach(stream: ReplicationStream): void {
    this.stream = stream;
  }

  /**
   * Starts handling the stream: events go to `sink`, and those `published` already covers are
   * skipped. Messages held since the stream started are handled first.
   */
  start(sink: EventSink<EventToken>, published: PublishedPosition | undefined): void {
    this.sink = sink;
    this.published = published;
    const held = this.held ?? [];
    this.held = undefined;
    for (const message of held) this.handle(message);
    if (
      this.reading &&
      this.inFlightEvents < this.options.maxInFlightEvents &&
      this.inFlightBytes < this.options.maxInFlightBytes
    )
      this.stream?.resume();
  }

  /** Holds the stream (before `start`): nothing is read until the sink is ready. */
  hold(): void {
    if (this.held !== undefined) this.stream?.pause();
  }

  /** Called with the first unrecoverable error this session meets. */
  onFailure(listener: (err: RelayError) => void): void {
    this.failureListener = listener;
    if (this.failure !== undefined) listener(this.failure);
  }

  /** Stops taking input (shutdown): new messages are ignored and the stream stays paused. */
  stopReading(): void {
    this.reading = false;
    this.stream?.pause();
  }

  /** The session is over: late acknowledgements no longer count. */
  end(): void {
    this.ended = true;
    this.reading = false;
  }

  /** Sends the confirmed position (always; PostgreSQL also reads it as a sign of life). */
  sendStatus(force = false): void {
    const confirmed = this.tracker.confirmed;
    if (this.stream === undefined || this.ended) return;
    if (!force && confirmed === this.lastSentLsn) return;
    this.stream.sendStatus(confirmed);
    if (confirmed !== this.lastSentLsn) {
      this.log.debug({ confirmedLsn: formatLsn(confirmed) }, 'confirmed position sent');
    }
    this.lastSentLsn = confirmed;
  }

  /** Asks the server to answer at once with a keepalive: a live walsender always does. */
  requestReply(): void {
    if (this.stream === undefined || this.ended) return;
    this.stream.sendStatus(this.tracker.confirmed, true);
  }

  /** Handles one message from the replication stream, in stream order. */
  handle = (message: ReplicationMessage): void => {
    if (!this.reading || this.failure !== undefined) return;
    if (this.held !== undefined) {
      this.held.push(message);
      return;
    }
    this.lastReceivedAt = Date.now();
    try {
      if (message.kind === 'keepalive') {
        if (this.tracker.idleAt(message.walEnd) !== undefined || message.replyRequested)
          this.sendStatus(true);
        return;
      }
      this.handleData(message.data);
    } catch (err) {
      this.fail(
        err instanceof RelayError
          ? err
          : new RelayError(
              'REPLICATION_PROTOCOL',
              `cannot decode the replication stream: ${(err as Error).message}`,
              {
                cause: err,
              },
            ),
      );
    }
  };

  /** The publisher's acknowledgement for tokens of this session. */
  acked(tokens: EventToken[]): void {
    if (this.ended) return;
    let advanced = false;
    for (const token of tokens) {
      this.inFlightEvents--;
      this.inFlightBytes -= token.bytes;
      if (this.tracker.ack(token.txn) !== undefined) advanced = true;
    }
    if (advanced) this.sendStatus();
    if (
      this.reading &&
      this.stream?.isPaused === true &&
      this.inFlightEvents <= this.options.maxInFlightEvents / 2 &&
      this.inFlightBytes <= this.options.maxInFlightBytes / 2
    ) {
      this.stream.resume();
    }
  }

  private handleData(data: Buffer): void {
    const message = decodePgoutput(data);
    switch (message.tag) {
      case 'begin':
        this.open = {
          xid: message.xid,
          commitLsn: message.finalLsn,
          commitTimeUs: pgTimestampToUnixMicros(message.commitTime),
          tracked: this.tracker.begin(message.xid),
          events: 0,
          enqueued: 0,
        };
        return;
      case 'commit': {
        const txn = this.open;
        this.open = undefined;
        if (txn !== undefined && txn.enqueued > 0)
          this.sink?.transactionEnded(message.endLsn, txn.commitTimeUs);
        if (this.tracker.commit(message.endLsn) !== undefined) this.sendStatus();
        return;
      }
      case 'relation':
        this.mapper.onRelation(message);
        return;
      case 'insert':
        this.onInsert(message, data.length);
        return;
      case 'message':
        this.onMessage(message, data.length);
        return;
      default:
        // Updates and deletes of outbox rows (e.g. insert-then-delete to keep the table empty),
        // truncates, types, origins and messages carry no new events.
        return;
    }
  }

  private onInsert(message: InsertMessage, size: number): void {
    const txn = this.open;
    if (txn === undefined) throw new Error('insert outside a transaction');
    const source = { xid: txn.xid, commitLsn: txn.commitLsn, commitTimeUs: txn.commitTimeUs };
    const mapped = this.mapper.onInsert(message, source);
    if (mapped === undefined || this.alreadyPublished(txn)) return;
    this.publishMapped(
      txn,
      mapped,
      (fields) =>
        this.deadLetter(txn, this.mapper.rowOf(message) ?? {}, this.outboxTable, fields, size),
      size,
    );
  }

  private onMessage(message: LogicalMessage, size: number): void {
    if (message.prefix === HEARTBEAT_PREFIX && !message.transactional) {
      this.options.onHeartbeat(message.content.toString('utf8'));
      return;
    }
    const prefix = this.options.messagePrefix;
    if (prefix === undefined || message.prefix !== prefix) return;
    const txn = this.open;
    if (!message.transactional || txn === undefined) {
      this.log.warn(
        { prefix, lsn: formatLsn(message.lsn) },
        'ignored a non-transactional logical decoding message: only pg_logical_emit_message(true, ...) is atomic with its transaction',
      );
      return;
    }
    if (this.alreadyPublished(txn)) return;
    const source = { xid: txn.xid, commitLsn: txn.commitLsn, commitTimeUs: txn.commitTimeUs };
    const mapped = mapMessage(
      message.content,
      message.lsn,
      this.stream?.origin ?? '',
      source,
      prefix,
    );
    const row = mapped.ok ? {} : mapped.invalid.row;
    this.publishMapped(
      txn,
      mapped,
      (fields) => this.deadLetter(txn, row, `message:${prefix}`, fields, size),
      size,
    );
  }

  /** Publishes a mapped event, or dead-letters it (or fails) when it cannot become a record. */
  private publishMapped(
    txn: OpenTransaction,
    mapped: MappedRow,
    letter: (problem: RouteProblem) => void,
    size: number,
  ): void {
    const route = routeEvent(mapped, this.records, this.options.maxRecordBytes);
    if (!route.ok) return letter(route.problem);
    if (this.log.isLevelEnabled('trace') && mapped.ok) {
      const { event } = mapped;
      this.log.trace(
        {
          id: event.id,
          type: event.type,
          aggregateId: event.aggregateId,
          topic: route.record.topic,
          lsn: formatLsn(txn.commitLsn),
        },
        'event read',
      );
    }
    this.publish(txn, route.record, Math.max(size, route.bytes));
  }

  private get outboxTable(): string {
    return this.options.table.qualified();
  }

  private deadLetter(
    txn: OpenTransaction,
    row: Record<string, string | null>,
    table: string,
    fields: RouteProblem,
    size: number,
  ): void {
    const context = {
      reason: fields.reason,
      id: fields.eventId,
      lsn: formatLsn(txn.commitLsn),
      table,
    };
    if (this.options.onInvalidEvent === 'fail') {
      throw new RelayError(
        'EVENT_INVALID',
        `${fields.message}; ON_INVALID_EVENT=fail: nothing from here on is confirmed`,
        { context },
      );
    }
    const record = deadLetterRecord(
      {
        ...fields,
        row,
        table,
        commitLsn: txn.commitLsn,
        xid: txn.xid,
        timestamp: String(txn.commitTimeUs / 1000n),
      },
      this.options.deadLetterTopic,
      this.options.maxRecordBytes,
    );
    this.log.warn(
      { ...context, topic: this.options.deadLetterTopic },
      `dead-lettered: ${fields.message}`,
    );
    this.options.onDeadLetter(fields.reason);
    this.publish(
      txn,
      record,
      Math.max(Math.min(size, this.options.maxRecordBytes), recordBytes(record)),
    );
  }

  /**
   * Counts the next event of `txn` and says whether it is already on Kafka (exactly-once, after a
   * restart): such an event is neither mapped again nor published.
   */
  private alreadyPublished(txn: OpenTransaction): boolean {
    const index = txn.events++;
    if (!isPublished(this.published, { commitLsn: txn.commitLsn, index })) return false;
    this.eventsSkipped++;
    return true;
  }

  private publish(txn: OpenTransaction, record: KafkaRecord, bytes: number): void {
    const sink = this.sink;
    if (sink === undefined) throw new Error('event before the session started');
    this.tracker.addEvent();
    this.inFlightEvents++;
    this.inFlightBytes += bytes;
    this.eventsRead++;
    txn.enqueued++;
    sink.enqueue(
      record,
      bytes,
      {
        session: this,
        txn: txn.tracked,
        bytes,
        topic: record.topic,
        commitTimeMs: Number(txn.commitTimeUs / 1000n),
      },
      { commitLsn: txn.commitLsn, index: txn.events - 1 },
    );
    if (
      this.inFlightEvents >= this.options.maxInFlightEvents ||
      this.inFlightBytes >= this.options.maxInFlightBytes
    ) {
      this.stream?.pause();
    }
  }

  private fail(err: RelayError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.failureListener?.(err);
  }
}
