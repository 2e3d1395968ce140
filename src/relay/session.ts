import type { Logger } from 'pino';
import { AckTracker, type TrackedTransaction } from '../ack/ack-tracker';
import type { PublishedPosition } from '../ack/published-position';
import type { EventSink } from '../delivery/delivery';
import type { RelayError } from '../errors';
import { toRelayError } from '../errors';
import type { OutboxLayout } from '../events/outbox-mapper';
import type { RecordMapper } from '../kafka/record-mapper';
import { HEARTBEAT_PREFIX } from '../ops/heartbeat';
import { formatLsn, type Lsn } from '../replication/lsn';
import {
  decodePgoutput,
  type InsertMessage,
  type LogicalMessage,
} from '../replication/pgoutput-decoder';
import {
  KEEPALIVE,
  readKeepalive,
  unexpectedMessage,
  XLOG_DATA,
  XLOG_DATA_HEADER,
} from '../replication/protocol';
import type { ReplicationStream } from '../replication/replication-stream';
import type { TableName } from '../table-name';
import { Confirmations } from './confirmations';
import { EventIntake, type Intake } from './event-intake';
import { FlowControl } from './flow-control';
import { TransactionReader, type OpenTransaction } from './transaction-reader';

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
  /** A transaction with events was read to its COMMIT (its commit time, ms since the epoch). */
  onTransactionRead?(commitTimeMs: number): void;
  /** Reading was paused by flow control (in-flight bounds) for `ms`, now resumed. */
  onFlowPaused?(ms: number): void;
}

/**
 * One replication connection's worth of streaming, coordinating the parts: reads pgoutput
 * transactions, hands outbox rows to the event intake and its records to the sink, applies
 * back-pressure (FlowControl), and confirms what Kafka acknowledged. A new
 * session (after a reconnect) starts from the slot's confirmed position with fresh state; acks
 * that arrive for an ended session are ignored. Until `start` hands it a sink, the session holds
 * the stream paused and keeps what already arrived.
 */
export class StreamSession {
  private readonly tracker: AckTracker;
  private readonly intake: EventIntake;
  private readonly flow: FlowControl;
  private readonly transactions: TransactionReader;
  /** When flow control paused reading (undefined: not paused by it). */
  private flowPausedAt: number | undefined;
  private readonly confirmations: Confirmations;
  private stream: ReplicationStream | undefined;
  private ended = false;
  private reading = true;
  private failure: RelayError | undefined;
  private failureListener: ((err: RelayError) => void) | undefined;
  private sink: EventSink<EventToken> | undefined;
  /** CopyData messages that arrived before `start`, handled when it is called. */
  private held: Buffer[] | undefined = [];
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
    this.transactions = new TransactionReader(this.tracker);
    this.intake = new EventIntake(options, records, log);
    this.flow = new FlowControl(options.maxInFlightEvents, options.maxInFlightBytes);
    this.confirmations = new Confirmations(() => this.tracker.confirmed, log);
  }

  get confirmed(): Lsn {
    return this.tracker.confirmed;
  }

  /** Events skipped as already on Kafka (exactly-once, after a restart), in this session. */
  get eventsSkipped(): number {
    return this.transactions.skipped;
  }

  get inFlight(): { events: number; bytes: number } {
    return this.flow.inFlight;
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
    this.transactions.published = published;
    const held = this.held ?? [];
    this.held = undefined;
    for (const message of held) this.handle(message, 0, message.length);
    if (this.reading && !this.flow.full) this.stream?.resume();
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
    this.confirmations.stop();
  }

  /** Sends the confirmed position (see Confirmations): with `force` at once. */
  sendStatus(force = false): void {
    if (this.stream === undefined || this.ended) return;
    this.confirmations.send(this.stream, force);
  }

  /** Asks the server to answer at once with a keepalive: a live walsender always does. */
  requestReply(): void {
    if (this.stream === undefined || this.ended) return;
    this.stream.sendStatus(this.tracker.confirmed, true);
  }

  /** Handles one CopyData message of the stream, `bytes[start, end)`, in stream order. */
  handle = (bytes: Buffer, start: number, end: number): void => {
    if (!this.reading || this.failure !== undefined) return;
    if (this.held !== undefined) {
      this.held.push(bytes.subarray(start, end));
      return;
    }
    this.lastReceivedAt = Date.now();
    try {
      const kind = bytes[start];
      if (kind === XLOG_DATA) {
        this.handleData(bytes, start + XLOG_DATA_HEADER, end);
      } else if (kind === KEEPALIVE) {
        const keepalive = readKeepalive(bytes, start, end);
        if (this.tracker.idleAt(keepalive.walEnd) !== undefined || keepalive.replyRequested)
          this.sendStatus(true);
      } else throw unexpectedMessage(bytes, start);
    } catch (err) {
      this.fail(
        toRelayError(err, 'REPLICATION_PROTOCOL', {
          what: 'cannot decode the replication stream',
        }),
      );
    }
  };

  /** The publisher's acknowledgement for tokens of this session. */
  acked(tokens: EventToken[]): void {
    if (this.ended) return;
    let advanced = false;
    for (const token of tokens) {
      this.flow.release(token.bytes);
      if (this.tracker.ack(token.txn) !== undefined) advanced = true;
    }
    if (advanced) this.sendStatus();
    if (this.reading && this.stream?.isPaused === true && this.flow.drained) {
      this.stream.resume();
      if (this.flowPausedAt !== undefined)
        this.options.onFlowPaused?.(Date.now() - this.flowPausedAt);
      this.flowPausedAt = undefined;
    }
  }

  /** One pgoutput message: `bytes[start, end)`. */
  private handleData(bytes: Buffer, start: number, end: number): void {
    const message = decodePgoutput(bytes, start, end);
    const size = end - start;
    switch (message.tag) {
      case 'begin':
        this.transactions.begin(message);
        return;
      case 'commit': {
        const { ended, confirmable } = this.transactions.commit(message.endLsn);
        if (ended !== undefined && ended.enqueued > 0) {
          this.sink?.transactionEnded(message.endLsn, ended.source.commitTimeUs);
          this.options.onTransactionRead?.(ended.commitTimeMs);
        }
        if (confirmable !== undefined) this.sendStatus();
        return;
      }
      case 'relation':
        this.intake.relation(message);
        return;
      case 'insert':
        this.onInsert(message, size);
        return;
      case 'message':
        this.onMessage(message, size);
        return;
      default:
        // Updates and deletes of outbox rows (e.g. insert-then-delete to keep the table empty),
        // truncates, types, origins and messages carry no new events.
        return;
    }
  }

  private onInsert(message: InsertMessage, size: number): void {
    const txn = this.transactions.current;
    if (txn === undefined) throw new Error('insert outside a transaction');
    if (!this.intake.isOutboxRow(message) || !this.transactions.nextEvent(txn)) return;
    this.publish(txn, this.intake.row(message, txn.source, size)!);
  }

  private onMessage(message: LogicalMessage, size: number): void {
    if (message.prefix === HEARTBEAT_PREFIX && !message.transactional) {
      this.options.onHeartbeat(message.content.toString('utf8'));
      return;
    }
    if (!this.intake.isEventMessage(message)) return;
    const txn = this.transactions.current;
    if (!message.transactional || txn === undefined) {
      this.log.warn(
        { prefix: message.prefix, lsn: formatLsn(message.lsn) },
        'ignored a non-transactional logical decoding message: only pg_logical_emit_message(true, ...) is atomic with its transaction',
      );
      return;
    }
    if (!this.transactions.nextEvent(txn)) return;
    this.publish(txn, this.intake.message(message, txn.source, this.stream?.origin ?? '', size));
  }

  private publish(txn: OpenTransaction, { record, bytes }: Intake): void {
    const sink = this.sink;
    if (sink === undefined) throw new Error('event before the session started');
    this.tracker.addEvent();
    const full = this.flow.add(bytes);
    this.eventsRead++;
    txn.enqueued++;
    const { commitLsn } = txn.source;
    sink.enqueue(
      record,
      bytes,
      {
        session: this,
        txn: txn.tracked,
        bytes,
        topic: record.topic,
        commitTimeMs: txn.commitTimeMs,
      },
      { commitLsn, index: txn.events - 1 },
    );
    if (full && this.stream !== undefined) {
      if (!this.stream.isPaused) this.flowPausedAt = Date.now();
      this.stream.pause();
    }
  }

  private fail(err: RelayError): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.failureListener?.(err);
  }
}
