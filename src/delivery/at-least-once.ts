import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/load';
import { describeError, RelayError } from '../errors';
import { authorizationError } from '../kafka/errors';
import { KafkaPublisher } from '../kafka/publisher';
import { probeCluster } from '../kafka/probe';
import type { RecordValues } from '../kafka/topics';
import {
  topicCreator,
  type Delivery,
  type DeliveryCallbacks,
  type OpenedSession,
} from './delivery';

/** Kafka requests stay below the broker's default message.max.bytes (1 MiB) per partition. */
export const BATCH_MAX_BYTES = 900_000;

/**
 * At-least-once: one idempotent producer with one request in flight (order across retries),
 * acks=all per send, shared by every session. kafkajs retries only briefly; the publisher retries
 * without limit on top and says so in the logs. After a crash, whatever was not confirmed to
 * PostgreSQL is published again.
 */
export class AtLeastOnceDelivery<T> implements Delivery<T> {
  readonly guarantee = 'at-least-once';
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly publisher: KafkaPublisher<T>;

  constructor(
    kafka: Kafka,
    private readonly config: Config,
    callbacks: DeliveryCallbacks<T>,
    log: Logger,
    values: RecordValues,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // kafkajs' retry is the client's (kafka/client.ts); the publisher retries on top.
    });
    this.admin = kafka.admin();
    const topics = topicCreator(this.admin, config, callbacks, log, values);
    this.publisher = new KafkaPublisher<T>(
      this.producer,
      topics,
      {
        batchMaxEvents: config.kafkaBatchMaxEvents,
        lingerMs: config.kafkaLingerMs,
        batchMaxBytes: BATCH_MAX_BYTES,
        retryInitialMs: config.retryInitialMs,
        retryMaxMs: config.retryMaxMs,
      },
      callbacks,
      log.child({ module: 'publisher' }),
    );
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      await this.admin.connect();
    } catch (err) {
      throw connectError(err, this.config.kafkaBrokers);
    }
  }

  openSession(): Promise<OpenedSession<T>> {
    return Promise.resolve({ sink: this.publisher, published: undefined });
  }

  closeSession(): Promise<void> {
    // Queued events of the ended session are read again by the next one.
    this.publisher.discardQueued();
    return Promise.resolve();
  }

  get isFailing(): boolean {
    return this.publisher.isFailing;
  }

  probe(timeoutMs: number): Promise<boolean> {
    return probeCluster(this.admin, timeoutMs);
  }

  async disconnect(): Promise<void> {
    this.publisher.stop();
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }
}

/** A failed connect: missing ACLs are fatal, anything else may clear. */
export function connectError(err: unknown, brokers: readonly string[]): RelayError {
  return (
    authorizationError(err, brokers.join(',')) ??
    new RelayError(
      'KAFKA_SEND',
      `cannot connect to Kafka at ${brokers.join(',')}: ${describeError(err)}`,
      { retriable: true, cause: err },
    )
  );
}
