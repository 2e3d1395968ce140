import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { decodePosition, type PublishedPosition } from '../ack/published-position';
import { describeError, RelayError } from '../errors';
import { authorizationError } from './errors';

export interface PositionTopicOptions {
  topic: string;
  /** -1: the broker's default.replication.factor. */
  replicationFactor: number;
  /** Prefix of the throw-away consumer groups that read the topic (ACL: Read on the prefix). */
  groupPrefix: string;
  /** Bound on one read, group join included. */
  readTimeoutMs: number;
}

/**
 * The exactly-once position topic: one partition, compacted, one record per slot (key = slot).
 * Created when missing; an existing topic with more partitions is refused, since a read of "the
 * newest record of a key" is only meaningful on one partition.
 */
export async function ensurePositionTopic(
  admin: Admin,
  options: PositionTopicOptions,
  log: Logger,
): Promise<void> {
  const { topic } = options;
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      const created = await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: 1,
            replicationFactor: options.replicationFactor,
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      });
      if (created) log.info({ topic }, 'created the position topic (1 partition, compacted)');
    }
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics[0]?.partitions.length ?? 0;
    if (partitions !== 1) {
      throw new RelayError(
        'KAFKA_TOPIC',
        `position topic ${topic} has ${partitions} partitions; exactly-once needs it with exactly one: delete it (see the README on what that means) or set POSITION_TOPIC to another name`,
        { context: { topic } },
      );
    }
  } catch (err) {
    throw topicError(err, `cannot prepare the position topic ${topic}`, topic);
  }
}

/**
 * Reads the position topic to its end with read_committed and returns the newest position of
 * `slot`, or undefined if it has none. "The end" is the last stable offset at the start of the
 * read: call this after the transactional producer is initialised, so nothing of this slot's
 * older producers can still commit behind it.
 */
export async function readPosition(
  kafka: Kafka,
  admin: Admin,
  slot: string,
  options: PositionTopicOptions,
  log: Logger,
): Promise<PublishedPosition | undefined> {
  const { topic } = options;
  const offsets = await admin.fetchTopicOffsets(topic);
  const partition = offsets.find((p) => p.partition === 0);
  // With read_committed (kafkajs' default for ListOffsets) `high` is the last stable offset.
  const end = BigInt(partition?.high ?? '0');
  if (partition === undefined || end <= BigInt(partition.low)) return undefined;
  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix}-${randomUUID()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
  });
  let latest: Buffer | null | undefined;
  let records = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new RelayError(
              'KAFKA_TOPIC',
              `reading the position topic ${topic} did not reach its end (offset ${end}) within ${options.readTimeoutMs} ms`,
              { retriable: true, context: { topic } },
            ),
          ),
        options.readTimeoutMs,
      );
      // Batches of only control records or aborted records carry no message, but still say how
      // far the read got.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic === topic && BigInt(payload.lastOffset) >= end - 1n) {
          clearTimeout(timer);
          resolve();
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: ({ message }) => {
            records++;
            if (message.key?.toString('utf8') === slot) latest = message.value;
            return Promise.resolve();
          },
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
  } catch (err) {
    throw topicError(err, `cannot read the position topic ${topic}`, topic);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  log.debug({ topic, records, end: String(end) }, 'read the position topic');
  if (latest === undefined || latest === null) return undefined;
  try {
    return decodePosition(latest);
  } catch (err) {
    throw new RelayError(
      'KAFKA_TOPIC',
      `the position topic ${topic} holds an unreadable record for slot ${slot} (${describeError(err)}); only the relay may write to it`,
      { context: { topic, slot } },
    );
  }
}

/** A failure on the position topic: missing ACLs are fatal; anything else may clear. */
function topicError(err: unknown, what: string, topic: string): RelayError {
  if (err instanceof RelayError) return err;
  return (
    authorizationError(err, `the position topic ${topic}`) ??
    new RelayError('KAFKA_TOPIC', `${what}: ${describeError(err)}`, {
      retriable: true,
      cause: err,
      context: { topic },
    })
  );
}
