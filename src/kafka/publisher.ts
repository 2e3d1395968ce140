import { CompressionTypes, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { isRelayError, RelayError } from '../errors';
import { backoffDelay, sleep } from '../retry/backoff';
import { authorizationError, isRetriableKafkaError, kafkaErrorType } from './errors';
import type { KafkaRecord } from './record-mapper';
import type { TopicCreator } from './topics';

export interface PublisherOptions {
  batchMaxEvents: number;
  batchMaxBytes: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** A request for fewer than `batchMaxEvents` waits until its oldest event is this old (ms). */
  lingerMs?: number;
}

export interface PublisherCallbacks<T> {
  /** The broker acknowledged (acks=all) these items, in the order they were enqueued. */
  onAcked(tokens: T[]): void;
  /** A failure that retrying cannot fix; the publisher has stopped. */
  onFatal(err: RelayError): void;
  /** A send failed and will be retried. */
  onRetry?(err: RelayError): void;
}

/** Records grouped by topic, in order, as kafkajs' sendBatch takes them. */
interface Item<T> {
  record: KafkaRecord;
  bytes: number;
  token: T;
  /** When it was queued (performance.now()). */
  at: number;
}

/**
 * Sends records to Kafka in batches with exactly one produce request in flight. With one
 * request at a time, a retried batch can never overtake a later one, so per-partition (and thus
 * per-aggregate) order holds across retries; the idempotent producer keeps broker-side retries
 * from duplicating. Meanwhile new records queue up and form the next batch.
 */
export class KafkaPublisher<T> {
  private queue: Array<Item<T>> = [];
  private sending = false;
  private stopped = false;
  private failing = false;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly producer: Producer,
    private readonly topics: TopicCreator,
    private readonly options: PublisherOptions,
    private readonly callbacks: PublisherCallbacks<T>,
    private readonly log: Logger,
  ) {}

  /** Events queued or in the request in flight. */
  get pending(): number {
    return this.queue.length;
  }

  /** True once stopped (by `stop()` or a fatal send error). */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** True while sends fail and are being retried (for health reporting). */
  get isFailing(): boolean {
    return this.failing;
  }

  enqueue(record: KafkaRecord, bytes: number, token: T): void {
    if (this.stopped) return;
    this.queue.push({ record, bytes, token, at: performance.now() });
    this.queuedBytes += bytes;
    if (!this.sending) void this.pump();
    else if (
      this.lingering !== undefined &&
      (this.queue.length >= this.options.batchMaxEvents ||
        this.queuedBytes >= this.options.batchMaxBytes)
    ) {
      // The request is full: no reason to wait. Once: an abort makes an exception object, and the
      // rest of the chunk being read would otherwise make one per event until the request goes.
      this.lingering.abort();
      this.lingering = undefined;
    }
  }

  /** At-least-once: where WAL transactions end does not change what is sent. */
  transactionEnded(): void {
    // Nothing to do: each batch is acknowledged on its own.
  }

  /** Drops queued items that are not in the request in flight; returns how many. */
  discardQueued(): number {
    const start = this.sending ? this.inFlightCount : 0;
    const dropped = this.queue.length - start;
    this.queue.length = start;
    this.queuedBytes = this.queue.reduce((sum, item) => sum + item.bytes, 0);
    return dropped;
  }

  /** Resolves when nothing is queued or in flight, or once stopped (nothing more will go out). */
  whenIdle(): Promise<void> {
    if (this.stopped || (!this.sending && this.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops sending: the request in flight finishes (or its retry loop ends); nothing new starts. */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.lingering?.abort();
  }

  private inFlightCount = 0;
  /** Bytes of the queued items (those in the request in flight included). */
  private queuedBytes = 0;
  /** Set while a request that is not full waits for more events; aborted to send it at once. */
  private lingering: AbortController | undefined;

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const first = this.nextBatch();
        const wait = first.full
          ? 0
          : this.queue[0]!.at + (this.options.lingerMs ?? 0) - performance.now();
        if (wait > 0) {
          // Linger: more events may come to fill the request.
          this.lingering = new AbortController();
          await sleep(wait, this.lingering.signal);
          this.lingering = undefined;
          if (this.stopped || this.queue.length === 0) break;
        }
        const { count, bytes } = wait > 0 ? this.nextBatch() : first;
        this.inFlightCount = count;
        const batch = this.queue.slice(0, count);
        const sent = await this.sendWithRetry(batch, bytes);
        this.inFlightCount = 0;
        if (!sent) return;
        this.queue.splice(0, count);
        this.queuedBytes -= bytes;
        this.callbacks.onAcked(batch.map((item) => item.token));
      }
    } finally {
      this.sending = false;
      this.inFlightCount = 0;
      if (this.queue.length === 0 || this.stopped) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }

  /** How many queued items the next request takes, their bytes, and whether it is full. */
  private nextBatch(): { count: number; bytes: number; full: boolean } {
    let count = 0;
    let bytes = 0;
    const max = Math.min(this.options.batchMaxEvents, this.queue.length);
    while (count < max) {
      const next = this.queue[count]!.bytes;
      if (count > 0 && bytes + next > this.options.batchMaxBytes)
        return { count, bytes, full: true };
      bytes += next;
      count++;
    }
    return { count, bytes, full: count === this.options.batchMaxEvents };
  }

  private async sendWithRetry(batch: Array<Item<T>>, bytes: number): Promise<boolean> {
    const records = batch.map((item) => item.record);
    let topics: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        const byTopic = await this.topics.prepare(records);
        topics = [...byTopic.keys()];
        await this.producer.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          acks: -1,
          compression: CompressionTypes.None,
        });
        if (this.failing) this.log.info({ attempts: attempt }, 'Kafka send succeeded again');
        this.failing = false;
        return true;
      } catch (err) {
        if (!isRetriableKafkaError(err)) {
          this.stop();
          this.callbacks.onFatal(
            (isRelayError(err) ? err : undefined) ??
              authorizationError(err, 'the configured brokers') ??
              new RelayError(
                'KAFKA_SEND',
                `Kafka rejected a batch and retrying cannot help (${kafkaErrorType(err) ?? 'error'}: ${(err as Error).message})`,
                {
                  cause: err,
                  context: { topics: topics.join(','), events: batch.length },
                },
              ),
          );
          return false;
        }
        if (this.stopped) return false;
        this.failing = true;
        // The relay's own retriable errors (a schema registry that does not answer) say what failed.
        const error = isRelayError(err)
          ? err
          : new RelayError('KAFKA_SEND', `Kafka send failed: ${(err as Error).message}`, {
              retriable: true,
              cause: err,
            });
        this.callbacks.onRetry?.(error);
        const delayMs = backoffDelay(attempt, this.options.retryInitialMs, this.options.retryMaxMs);
        this.log.warn(
          {
            code: error.code,
            attempt,
            delayMs,
            events: batch.length,
            bytes,
            topics,
            error: (err as Error).message,
          },
          `${error.code === 'KAFKA_SEND' ? 'Kafka send failed' : error.message}; retrying the same batch (nothing is confirmed to PostgreSQL meanwhile)`,
        );
        await sleep(delayMs, this.abort.signal);
        if (this.stopped) return false;
      }
    }
  }
}
