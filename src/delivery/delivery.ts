import type { EventPosition, PublishedPosition } from '../ack/published-position';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/load';
import type { DeadLetterReason } from '../dead-letter-reason';
import { RelayError } from '../errors';
import { DLQ_HEADERS, partitionDeadLetter } from '../kafka/dead-letter';
import type { PositionTopicOptions } from '../kafka/position-topic';
import { TopicCreator, type RecordValues } from '../kafka/topics';
import type { KafkaRecord } from '../kafka/record-mapper';
import type { Lsn } from '../replication/lsn';

/** Where a streaming session hands its events, in stream order. */
export interface EventSink<T> {
  /** One event of the WAL transaction being read; `at` says where it sits in the WAL. */
  enqueue(record: KafkaRecord, bytes: number, token: T, at: EventPosition): void;
  /** The WAL transaction being read ended (its COMMIT was decoded) at `endLsn`. */
  transactionEnded(endLsn: Lsn, commitTimeUs: bigint): void;
  /** Resolves when everything that may be sent now is sent and acknowledged. */
  whenIdle(): Promise<void>;
  readonly isStopped: boolean;
}

export interface DeliveryCallbacks<T> {
  /** Kafka acknowledged these events (exactly-once: their transaction committed), in order. */
  onAcked(tokens: T[]): void;
  /** Nothing can go on (authorization, a record Kafka refuses for good): the relay must stop. */
  onFatal(error: RelayError): void;
  /** The session's sink failed in a way a new session may cure (e.g. a failed Kafka commit). */
  onSessionFailed(error: RelayError): void;
  /** A send failed and is being retried. */
  onRetry(error: RelayError): void;
  /** An event went to the dead-letter topic while being sent (a partition its topic lacks). */
  onDeadLetter(reason: DeadLetterReason): void;
}

/**
 * The topic creator both deliveries use: topics made on first use, and a record whose partition
 * its topic lacks dead-lettered (or, with ON_INVALID_EVENT=fail, a fatal EVENT_INVALID).
 */
export function topicCreator<T>(
  admin: Admin,
  config: Config,
  callbacks: DeliveryCallbacks<T>,
  log: Logger,
  values: RecordValues,
): TopicCreator {
  const topicsLog = log.child({ module: 'topics' });
  return new TopicCreator(
    admin,
    { partitions: config.topicPartitions, replicationFactor: config.topicReplicationFactor },
    topicsLog,
    (record, partitions) => {
      const letter = partitionDeadLetter(record, partitions, config.deadLetterTopic);
      const message = letter.headers[DLQ_HEADERS.message]!;
      const context = { reason: 'INVALID_PARTITION', id: letter.headers[DLQ_HEADERS.eventId] };
      if (config.onInvalidEvent === 'fail') {
        throw new RelayError(
          'EVENT_INVALID',
          `${message}; ON_INVALID_EVENT=fail: nothing from here on is confirmed`,
          { context },
        );
      }
      topicsLog.warn({ ...context, topic: config.deadLetterTopic }, `dead-lettered: ${message}`);
      callbacks.onDeadLetter('INVALID_PARTITION');
      return letter;
    },
    values,
  );
}

/** What a streaming session starts with. */
export interface OpenedSession<T> {
  sink: EventSink<T>;
  /** Events at or before this are already on Kafka and must be skipped (exactly-once). */
  published: PublishedPosition | undefined;
}

/**
 * How events reach Kafka and when an LSN may be confirmed: at-least-once (an idempotent producer
 * shared by all sessions; acknowledged = the broker acked the send) or exactly-once (a
 * transactional producer per session; acknowledged = its Kafka transaction committed).
 */
export interface Delivery<T> {
  readonly guarantee: 'at-least-once' | 'exactly-once';
  /** Start-up: connect to Kafka (retriable failures are RelayErrors with `retriable`). */
  connect(): Promise<void>;
  /**
   * A session holds the slot and is about to read: returns its sink and what is already
   * published. Must be called only once the slot is ours (exactly-once fences older producers).
   */
  openSession(): Promise<OpenedSession<T>>;
  /** The session ended: what it queued and did not publish is dropped (it is read again). */
  closeSession(): Promise<void>;
  /** True while sends fail and are being retried (readiness). */
  readonly isFailing: boolean;
  /** True if a broker answers a metadata request within `timeoutMs`. */
  probe(timeoutMs: number): Promise<boolean>;
  /** Stops sending and closes every connection. */
  disconnect(): Promise<void>;
}

/** How long reading the position topic (group join included) may take. */
const POSITION_READ_TIMEOUT_MS = 30_000;

/** The position topic as the configuration names it (exactly-once positions, slot checkpoints). */
export function positionTopicOptions(config: Config): PositionTopicOptions {
  return {
    topic: config.positionTopic,
    replicationFactor: config.topicReplicationFactor,
    groupPrefix: `${config.kafkaClientId}.position.${config.slotName}`,
    readTimeoutMs: POSITION_READ_TIMEOUT_MS,
  };
}
