import { CompressionTypes, type Message, type Producer, type Transaction } from 'kafkajs';
import type { Logger } from 'pino';
import {
  encodePosition,
  PositionBuilder,
  type EventPosition,
  type PublishedPosition,
} from '../ack/published-position';
import { describeError, isRelayError, RelayError } from '../errors';
import type { Lsn } from '../replication/lsn';
import { raceTimeout } from '../retry/timeout';
import { authorizationError, isRetriableKafkaError, kafkaErrorType } from './errors';
import type { KafkaRecord } from './record-mapper';
import type { TopicCreator } from './topics';

export interface TransactionalOptions {
  batchMaxEvents: number;
  batchMaxBytes: number;
  /** Longest a Kafka transaction stays open while more events are ready. */
  intervalMs: number;
  /** A WAL transaction still open in the stream is split once this much of it waits. */
  splitEvents: number;
  splitBytes: number;
  positionTopic: string;
  /** The slot: the position record's key. */
  slot: string;
  /** Who writes the position (shown in the record, for operators). */
  writer: string;
}

export interface TransactionalCallbacks<T> {
  /** A Kafka transaction with these events committed: they may be confirmed. */
  onCommitted(tokens: T[], stats: { durationMs: number }): void;
  /** The publisher stopped for good (its producer must be discarded); what to do is the caller's. */
  onFailed(error: RelayError): void;
  /** The producer was fenced (also reported after the publisher was stopped, e.g. by an abort). */
  onFenced(error: RelayError): void;
}

type Entry<T> =
  | { event: true; record: KafkaRecord; bytes: number; token: T; at: EventPosition }
  | { event: false; endLsn: Lsn; commitTimeUs: bigint };

/** Broker answers that mean another producer with our transactional id has taken over. */
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_NOT_FOUND']);

/** A transactional producer and the transaction it has open (initialised, nothing sent yet). */
export interface TransactionLane {
  producer: Producer;
  transaction: Transaction | undefined;
}

/**
 * Exactly-once publishing for one streaming session. Events go out in Kafka transactions that
 * end on WAL-transaction boundaries and carry, as their last record, the slot's position in the
 * position topic; a WAL transaction that grows past the split bound is spread over several Kafka
 * transactions, each recording how many of its events are out. A transaction commits when
 * nothing more is ready to send, after `intervalMs`, or at the split bound. Transactions run one
 * after the other, taking turns on the lanes (producers): after a commit the broker still writes
 * the transaction's markers, and the same producer's next transaction waits for that
 * (CONCURRENT_TRANSACTIONS); the other lane does not. Any failure stops the publisher: a
 * producer whose commit failed, or that was fenced, is never used again (the session starts over
 * with new producers and the position read back from Kafka).
 */
export class TransactionalPublisher<T> {
  private queue: Array<Entry<T>> = [];
  private head = 0;
  /** Transaction ends queued: everything before the last one may go out. */
  private queuedEnds = 0;
  /** Events queued after the last queued end: an open WAL transaction. */
  private tailEvents = 0;
  private tailBytes = 0;
  private sending = false;
  private stopped = false;
  private next = 0;
  private readonly positions: PositionBuilder;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly lanes: TransactionLane[],
    private readonly topics: TopicCreator,
    start: PublishedPosition | undefined,
    private readonly options: TransactionalOptions,
    private readonly callbacks: TransactionalCallbacks<T>,
    private readonly log: Logger,
  ) {
    this.positions = new PositionBuilder(start);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  enqueue(record: KafkaRecord, bytes: number, token: T, at: EventPosition): void {
    if (this.stopped) return;
    this.queue.push({ event: true, record, bytes, token, at });
    this.tailEvents++;
    this.tailBytes += bytes;
    if (!this.sending && this.ready()) void this.pump();
  }

  transactionEnded(endLsn: Lsn, commitTimeUs: bigint): void {
    if (this.stopped) return;
    this.queue.push({ event: false, endLsn, commitTimeUs });
    this.queuedEnds++;
    this.tailEvents = 0;
    this.tailBytes = 0;
    if (!this.sending) void this.pump();
  }

  /** Resolves when nothing that may be sent is queued or being sent (or the publisher stopped). */
  whenIdle(): Promise<void> {
    if (this.stopped || (!this.sending && !this.ready())) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops for good. An open Kafka transaction is aborted (best effort, bounded): its records are
   * never shown to read_committed consumers, and a fenced producer learns it here.
   */
  async close(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.wakeIdle();
    if (this.sending) return;
    const open = this.lanes.flatMap((lane) => {
      const { transaction } = lane;
      lane.transaction = undefined;
      return transaction !== undefined && transaction.isActive() ? [transaction] : [];
    });
    await raceTimeout(
      Promise.all(open.map((t) => t.abort().catch((err: unknown) => this.fail(err)))),
      timeoutMs,
      undefined,
    );
  }

  /** Something may go out: a whole WAL transaction, or enough of an open one to split it. */
  private ready(): boolean {
    return (
      this.queuedEnds > 0 ||
      this.tailEvents >= this.options.splitEvents ||
      this.tailBytes >= this.options.splitBytes
    );
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (!this.stopped && this.ready()) await this.runTransaction();
    } catch (err) {
      this.fail(err);
    } finally {
      this.sending = false;
      if (this.stopped || !this.ready()) this.wakeIdle();
    }
  }

  private async runTransaction(): Promise<void> {
    const lane = this.lanes[this.next]!;
    this.next = (this.next + 1) % this.lanes.length;
    const transaction = lane.transaction ?? (await lane.producer.transaction());
    lane.transaction = transaction;
    const started = Date.now();
    const tokens: T[] = [];
    let finishing = false;
    for (;;) {
      const batch = this.takeBatch(finishing);
      // Commit when nothing more is ready, after the interval, or at the split bound: events are
      // acknowledged (and reading resumes) only at a commit, so a transaction that reached half
      // the in-flight bound would soon pause the stream.
      finishing ||=
        !this.ready() ||
        Date.now() - started >= this.options.intervalMs ||
        tokens.length + batch.tokens.length >= this.options.splitEvents;
      // A batch bound may have cut a WAL transaction whose end is already queued: finish it in
      // this Kafka transaction, so only a WAL transaction too big to wait for is ever split.
      const cut = this.positions.position?.partial !== undefined && this.queuedEnds > 0;
      const last = finishing && !cut;
      const byTopic = await this.topics.prepare(batch.records);
      if (last) byTopic.set(this.options.positionTopic, [this.positionMessage()]);
      if (byTopic.size > 0) {
        await transaction.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          acks: -1,
          compression: CompressionTypes.None,
        });
      }
      for (const token of batch.tokens) tokens.push(token);
      if (this.stopped) return;
      if (last) break;
    }
    await transaction.commit();
    lane.transaction = undefined;
    this.callbacks.onCommitted(tokens, { durationMs: Date.now() - started });
  }

  /**
   * The next records to send, up to the batch bounds, never past what `ready()` allows; with
   * `toEnd`, no further than the end of the WAL transaction being taken.
   */
  private takeBatch(toEnd: boolean): { records: KafkaRecord[]; tokens: T[] } {
    const records: KafkaRecord[] = [];
    const tokens: T[] = [];
    let bytes = 0;
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head]!;
      if (!entry.event) {
        this.positions.transactionEnd(entry.endLsn, entry.commitTimeUs);
        this.queuedEnds--;
        this.head++;
        if (toEnd) break;
        continue;
      }
      if (this.queuedEnds === 0 && !this.ready()) break;
      if (records.length >= this.options.batchMaxEvents) break;
      if (records.length > 0 && bytes + entry.bytes > this.options.batchMaxBytes) break;
      records.push(entry.record);
      tokens.push(entry.token);
      bytes += entry.bytes;
      this.positions.event(entry.at);
      if (this.queuedEnds === 0) {
        this.tailEvents--;
        this.tailBytes -= entry.bytes;
      }
      this.head++;
    }
    // Let go of what was taken at once: sent records need not wait for the commit in memory.
    this.queue.splice(0, this.head);
    this.head = 0;
    return { records, tokens };
  }

  private positionMessage(): Message {
    const position = this.positions.position;
    if (position === undefined) throw new Error('no position to record: nothing was sent');
    return {
      key: this.options.slot,
      value: encodePosition(this.options.slot, position, this.options.writer),
      timestamp: String(Date.now()),
    };
  }

  private fail(err: unknown): void {
    const wasStopped = this.stopped;
    this.stopped = true;
    const error = transactionError(err);
    if (error.code === 'KAFKA_FENCED') this.callbacks.onFenced(error);
    // A stopped publisher belongs to a session that already ended: nothing more to interrupt.
    if (!wasStopped) this.callbacks.onFailed(error);
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

export function isFenced(err: unknown): boolean {
  const type = kafkaErrorType(err);
  return type !== undefined && FENCED.has(type);
}

/** A transactional producer's failure as the relay reports it. */
function transactionError(err: unknown): RelayError {
  if (isRelayError(err)) return err;
  if (isFenced(err)) {
    return new RelayError(
      'KAFKA_FENCED',
      `this instance was fenced: another instance with the same transactional id took over (${kafkaErrorType(err) ?? describeError(err)}); it stops publishing, and nothing it had not committed is visible to read_committed consumers`,
      { retriable: true, cause: err },
    );
  }
  const denied = authorizationError(err, 'the configured brokers');
  if (denied !== undefined) return denied;
  const type = kafkaErrorType(err);
  if (type === 'INVALID_TRANSACTION_TIMEOUT') {
    return new RelayError(
      'KAFKA_TRANSACTION',
      "the broker refused the transaction timeout (INVALID_TRANSACTION_TIMEOUT): set KAFKA_TRANSACTION_TIMEOUT_MS at or below the broker's transaction.max.timeout.ms",
      { cause: err },
    );
  }
  const retriable = isRetriableKafkaError(err);
  return new RelayError(
    retriable ? 'KAFKA_TRANSACTION' : 'KAFKA_SEND',
    `Kafka transaction failed (${type ?? 'error'}: ${describeError(err)}); the producer is discarded, nothing of the transaction is confirmed, and streaming starts over from the position recorded in Kafka`,
    { retriable, cause: err },
  );
}
