import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Config } from '../config/load';
import { describeError, RelayError } from '../errors';

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
      throw new RelayError(
        'KAFKA_SEND',
        `cannot connect to Kafka at ${this.config.kafkaBrokers.join(',')}: ${describeError(err)}`,
        { retriable: true, cause: err },
      );
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }
}
