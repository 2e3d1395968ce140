import { hostname } from 'node:os';
import { logLevel, Partitioners, type Admin, type Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaLogTap } from '../logger';
import type { Config } from '../config/load';
import { describeError, RelayError } from '../errors';
import { cacheTransactionCoordinators } from '../kafka/coordinator-cache';
import { kafkaErrorType } from '../kafka/errors';
import {
  ensurePositionTopic,
  readPosition,
  type PositionTopicOptions,
} from '../kafka/position-topic';
import { probeCluster } from '../kafka/probe';
import type { RecordValues, TopicCreator } from '../kafka/topics';
import {
  isFenced,
  TransactionalPublisher,
  type TransactionLane,
} from '../kafka/transactional-publisher';
import { formatLsn } from '../replication/lsn';
import type { RelayMetrics } from '../ops/metrics';
import { BATCH_MAX_BYTES, connectError } from './at-least-once';
import {
  topicCreator,
  type Delivery,
  type DeliveryCallbacks,
  type OpenedSession,
  positionTopicOptions,
} from './delivery';

/** How long aborting the open transaction of an ending session may take. */
const ABORT_TIMEOUT_MS = 5_000;

/**
 * The transactional ids: `<KAFKA_TRANSACTIONAL_ID>.0` and `.1` (default prefix
 * `outbox-relay.<SLOT_NAME>`), the same for every instance of the slot, so whichever takes the
 * slot over fences both of the instance before it.
 */
export function transactionalIds(config: Config): string[] {
  const prefix = config.kafkaTransactionalId ?? `outbox-relay.${config.slotName}`;
  return [`${prefix}.0`, `${prefix}.1`];
}

/**
 * Exactly-once: each session gets new transactional producers, one per transactional id (two
 * lanes that take turns, see TransactionalPublisher). Initialising them fences every older
 * producer with those ids (a crashed or frozen instance) and aborts its open transactions; only
 * then is the position topic read with read_committed, so the position returned is final. Events
 * and the position are committed together; a failed commit or a fenced producer ends the session
 * and its producers are never used again.
 */
export class ExactlyOnceDelivery<T> implements Delivery<T> {
  readonly guarantee = 'exactly-once';
  private readonly admin: Admin;
  private readonly topics: TopicCreator;
  private readonly positionTopic: PositionTopicOptions;
  private lanes: TransactionLane[] = [];
  private publisher: TransactionalPublisher<T> | undefined;
  private readonly writer = `${hostname()}/${process.pid}`;

  constructor(
    private readonly kafka: Kafka,
    private readonly config: Config,
    private readonly callbacks: DeliveryCallbacks<T>,
    private readonly metrics: RelayMetrics,
    private readonly log: Logger,
    values: RecordValues,
    private readonly kafkaLogs?: KafkaLogTap,
  ) {
    cacheTransactionCoordinators();
    this.admin = kafka.admin();
    this.topics = topicCreator(this.admin, config, callbacks, log, values);
    this.positionTopic = positionTopicOptions(config);
  }

  async connect(): Promise<void> {
    try {
      await this.admin.connect();
    } catch (err) {
      throw connectError(err, this.config.kafkaBrokers);
    }
    await ensurePositionTopic(this.admin, this.positionTopic, this.log);
  }

  async openSession(): Promise<OpenedSession<T>> {
    // Every lane is initialised (fencing older producers of its id and ending their open
    // transactions) before the position is read.
    for (const id of transactionalIds(this.config)) this.lanes.push(await this.openLane(id));
    const published = await readPosition(
      this.kafka,
      this.admin,
      this.config.slotName,
      this.positionTopic,
      this.log,
    ).catch(async (err: unknown) => {
      await this.closeSession();
      throw err;
    });
    this.log.info(
      {
        transactionalIds: transactionalIds(this.config),
        positionTopic: this.config.positionTopic,
        publishedLsn: published === undefined ? null : formatLsn(published.lsn),
        partial:
          published?.partial === undefined
            ? null
            : {
                commitLsn: formatLsn(published.partial.commitLsn),
                events: published.partial.events,
              },
      },
      published === undefined
        ? 'exactly-once: producers initialised; no published position for this slot yet'
        : 'exactly-once: producers initialised; events up to the published position are skipped',
    );
    const half = (n: number) => Math.max(Math.floor(n / 2), 1);
    this.publisher = new TransactionalPublisher<T>(
      this.lanes,
      this.topics,
      published,
      {
        batchMaxEvents: this.config.kafkaBatchMaxEvents,
        batchMaxBytes: BATCH_MAX_BYTES,
        intervalMs: this.config.kafkaTransactionIntervalMs,
        splitEvents: half(this.config.maxInFlightEvents),
        splitBytes: half(this.config.maxInFlightBytes),
        positionTopic: this.config.positionTopic,
        slot: this.config.slotName,
        writer: this.writer,
      },
      {
        onCommitted: (tokens, { durationMs }) => {
          this.metrics.transactions.inc({ result: 'committed' });
          this.metrics.transactionDuration.observe(durationMs / 1000);
          this.metrics.transactionEvents.observe(tokens.length);
          this.callbacks.onAcked(tokens);
        },
        onFailed: (error) => this.failed(error),
        onFenced: (error) => this.fenced(error),
      },
      this.log.child({ module: 'transactions' }),
    );
    return { sink: this.publisher, published };
  }

  /** A transactional producer for `id`, initialised, with its first transaction begun. */
  private async openLane(id: string): Promise<TransactionLane> {
    const producer = this.kafka.producer({
      transactionalId: id,
      transactionTimeout: this.config.kafkaTransactionTimeoutMs,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Right after a commit the next transaction's first request may get CONCURRENT_TRANSACTIONS
      // while the broker writes the markers. kafkajs' default first retry (300 ms) is paid by
      // every back-to-back transaction; measured on one local broker, 1-record transactions
      // started 1 ms apart, p50 / p90 per transaction: first retry 20 ms 2.7-6.3 / 7.5-31 ms,
      // 5 ms 2.0-3.7 / 4.3-9.6 ms. Eight retries still wait ~1.3 s for a coordinator.
      retry: { retries: 8, initialRetryTime: 5, maxRetryTime: 1_000 },
    });
    try {
      await producer.connect();
      // The first transaction initialises the producer id of the transactional id: this fences
      // older producers and ends their open transaction.
      return { producer, transaction: await producer.transaction() };
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      await this.closeSession();
      throw initError(err, id, this.config, await this.coordinatorRefusal(err, id));
    }
  }

  /**
   * kafkajs answers every failure to find the transaction coordinator with "Failed to find group
   * coordinator" and keeps the broker's reason (e.g. TRANSACTIONAL_ID_AUTHORIZATION_FAILED) to its
   * debug log. Asks once more with that log on, to say what to change.
   */
  private async coordinatorRefusal(err: unknown, id: string): Promise<string | undefined> {
    if (this.kafkaLogs === undefined || !/coordinator/i.test(describeError(err))) return undefined;
    let refusal: string | undefined;
    const stop = this.kafkaLogs.listen((entry) => {
      const type = (entry.error as { type?: unknown } | undefined)?.type;
      if (entry.groupId === id && typeof type === 'string') refusal = type;
    });
    const root = this.kafka.logger();
    root.setLogLevel(logLevel.DEBUG);
    const probe = this.kafka.producer({
      transactionalId: id,
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 200 },
    });
    try {
      await probe.connect();
      await probe.transaction().then((t) => t.abort());
    } catch {
      // Expected: the same failure, now with its reason in the log.
    } finally {
      root.setLogLevel(logLevel.INFO); // createKafka's level
      stop();
      await probe.disconnect().catch(() => undefined);
    }
    return refusal;
  }

  async closeSession(): Promise<void> {
    const { publisher, lanes } = this;
    this.publisher = undefined;
    this.lanes = [];
    await publisher?.close(ABORT_TIMEOUT_MS);
    await Promise.all(lanes.map((lane) => lane.producer.disconnect().catch(() => undefined)));
  }

  /** Failing sends are not retried in place: the session restarts (and readiness says so). */
  get isFailing(): boolean {
    return false;
  }

  probe(timeoutMs: number): Promise<boolean> {
    return probeCluster(this.admin, timeoutMs);
  }

  async disconnect(): Promise<void> {
    await this.closeSession();
    await this.admin.disconnect().catch(() => undefined);
  }

  private fenced(error: RelayError): void {
    this.metrics.fenced.inc();
    this.log.warn(
      { transactionalIds: transactionalIds(this.config), code: error.code },
      error.message,
    );
  }

  private failed(error: RelayError): void {
    if (error.code !== 'KAFKA_FENCED') this.metrics.transactions.inc({ result: 'aborted' });
    if (error.retriable) this.callbacks.onSessionFailed(error);
    else this.callbacks.onFatal(error);
  }
}

/** Why initialising the transactional producer failed, and what to change. */
function initError(
  err: unknown,
  id: string,
  config: Config,
  coordinatorRefusal: string | undefined,
): RelayError {
  const base = connectError(err, config.kafkaBrokers);
  if (base.code === 'KAFKA_AUTHORIZATION' || coordinatorRefusal?.endsWith('AUTHORIZATION_FAILED')) {
    return new RelayError(
      'KAFKA_AUTHORIZATION',
      `${coordinatorRefusal === undefined ? base.message : `Kafka refused the transactional id ${id} (${coordinatorRefusal})`}; exactly-once also needs Write and Describe on the transactional id ${id}, and Read on the position topic ${config.positionTopic} and on consumer groups prefixed ${config.kafkaClientId}.position.`,
      { cause: err },
    );
  }
  if (isFenced(err)) {
    return new RelayError(
      'KAFKA_FENCED',
      `initialising transactional id ${id}: ${describeError(err)}`,
      {
        retriable: true,
        cause: err,
      },
    );
  }
  const message = describeError(err);
  if (kafkaErrorType(err) === 'INVALID_TRANSACTION_TIMEOUT') {
    return new RelayError(
      'KAFKA_TRANSACTION',
      `the broker refused KAFKA_TRANSACTION_TIMEOUT_MS=${config.kafkaTransactionTimeoutMs} (${message}): set it at or below the broker's transaction.max.timeout.ms (15 minutes by default)`,
      { cause: err, context: { transactionalId: id } },
    );
  }
  return new RelayError(
    'KAFKA_TRANSACTION',
    `cannot initialise the transactional producer ${id} (${message}${coordinatorRefusal === undefined ? '' : `: ${coordinatorRefusal}`}); if this persists, the brokers cannot run transactions: check that transaction.state.log.replication.factor and transaction.state.log.min.isr are at most the number of brokers`,
    { retriable: true, cause: err, context: { transactionalId: id } },
  );
}
