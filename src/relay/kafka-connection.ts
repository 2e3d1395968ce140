import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/load';
import { describeError, RelayError } from '../errors';
import { authorizationError } from '../kafka/errors';
import { KafkaPublisher, type PublisherCallbacks } from '../kafka/publisher';
import { TopicCreator } from '../kafka/topics';

/** Kafka requests stay below the broker's default message.max.bytes (1 MiB) per partition. */
const BATCH_MAX_BYTES = 900_000;

/**
 * The relay's producer and admin client. The producer is idempotent with one request in flight
 * (order across retries) and acks=all is set per send; kafkajs retries only briefly, the
 * publisher retries without limit on top and says so in the logs.
 */
export class KafkaConnection {
  readonly producer: Producer;
  readonly admin: Admin;

  constructor(
    kafka: Kafka,
    private readonly config: Config,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: {
        retries: 2,
        initialRetryTime: config.retryInitialMs,
        maxRetryTime: config.retryMaxMs,
      },
    });
    this.admin = kafka.admin();
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      await this.admin.connect();
    } catch (err) {
      const denied = authorizationError(err, this.config.kafkaBrokers.join(','));
      if (denied !== undefined) throw denied;
      throw new RelayError(
        'KAFKA_SEND',
        `cannot connect to Kafka at ${this.config.kafkaBrokers.join(',')}: ${describeError(err)}`,
        { retriable: true, cause: err },
      );
    }
  }

  /** The publisher sending through this connection, creating topics as it meets them. */
  publisher<T>(callbacks: PublisherCallbacks<T>, log: Logger): KafkaPublisher<T> {
    const topics = new TopicCreator(
      this.admin,
      {
        partitions: this.config.topicPartitions,
        replicationFactor: this.config.topicReplicationFactor,
      },
      log.child({ module: 'topics' }),
    );
    return new KafkaPublisher<T>(
      this.producer,
      topics,
      {
        batchMaxEvents: this.config.kafkaBatchMaxEvents,
        batchMaxBytes: BATCH_MAX_BYTES,
        retryInitialMs: this.config.retryInitialMs,
        retryMaxMs: this.config.retryMaxMs,
      },
      callbacks,
      log.child({ module: 'publisher' }),
    );
  }

  /** True if a broker answers a metadata request within `timeoutMs`. */
  async probe(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.admin.describeCluster().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }
}
