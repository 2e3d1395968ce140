import type { Admin, Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { encodePosition, type PublishedPosition } from '../ack/published-position';
import { describeError } from '../errors';
import { ensurePositionTopic, readPosition, type PositionTopicOptions } from './position-topic';

/**
 * The slot's last published position, kept in the position topic (key = slot) outside
 * PostgreSQL, so a slot that was dropped or re-created can be told from a first start. Exactly-once
 * writes its positions inside its Kafka transactions; at-least-once writes checkpoints here.
 */
export class SlotPositions {
  private readonly admin: Admin;
  private readonly producer: Producer;

  constructor(
    kafka: Kafka,
    private readonly slot: string,
    private readonly options: PositionTopicOptions,
    private readonly writer: string,
    private readonly log: Logger,
  ) {
    this.admin = kafka.admin();
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.read = () => readPosition(kafka, this.admin, slot, options, log);
  }

  /** The newest recorded position of the slot, or undefined if none was ever recorded. */
  readonly read: () => Promise<PublishedPosition | undefined>;

  /** Connects and makes sure the topic exists (throws, e.g. without the ACLs for it). */
  async connect(): Promise<void> {
    await this.admin.connect();
    await this.producer.connect();
    await ensurePositionTopic(this.admin, this.options, this.log);
  }

  async write(position: PublishedPosition): Promise<void> {
    await this.producer.send({
      topic: this.options.topic,
      acks: -1,
      messages: [
        {
          key: this.slot,
          value: encodePosition(this.slot, position, this.writer),
          timestamp: String(Date.now()),
        },
      ],
    });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch((err: unknown) => this.log.debug(describeError(err)));
    await this.admin.disconnect().catch(() => undefined);
  }
}
