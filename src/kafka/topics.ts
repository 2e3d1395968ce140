import type { Admin, Message } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaRecord } from './record-mapper';

export interface TopicSettings {
  partitions: number;
  /** -1: the broker's default.replication.factor. */
  replicationFactor: number;
}

/**
 * What becomes of a record whose chosen partition its topic does not have: its dead-letter
 * record, or a thrown RelayError (ON_INVALID_EVENT=fail). kafkajs would drop such a record
 * without a word, so it never reaches the producer.
 */
export type PartitionMissing = (record: KafkaRecord, partitions: number) => KafkaRecord;

/** Completes record values before they are sent (the value format's schema ids). */
export interface RecordValues {
  resolve(records: readonly KafkaRecord[]): Promise<void>;
}

/**
 * Records by topic, in the order given, as kafkajs sends them. A record is a kafkajs message as
 * it is (key, value, headers, timestamp, partition; kafkajs ignores `topic` and changes nothing).
 */
export function groupByTopic(records: readonly KafkaRecord[]): Map<string, Message[]> {
  const byTopic = new Map<string, Message[]>();
  for (const record of records) {
    let messages = byTopic.get(record.topic);
    if (messages === undefined) byTopic.set(record.topic, (messages = []));
    messages.push(record);
  }
  return byTopic;
}

/**
 * Creates topics the first time the relay publishes to them, with the configured partitions.
 * Topics that already exist (made by an operator or another tool) are used as they are. Records
 * with a partition of their own are checked against their topic's partition count.
 */
export class TopicCreator {
  private readonly known = new Set<string>();
  private readonly partitionCounts = new Map<string, number>();

  constructor(
    private readonly admin: Admin,
    private readonly settings: TopicSettings,
    private readonly log: Logger,
    private readonly partitionMissing?: PartitionMissing,
    private readonly values?: RecordValues,
  ) {}

  /**
   * Makes the records sendable: values completed (schema ids), topics created, partitions
   * checked; returns them by topic. Throws what the publisher retries or gives up on.
   */
  async prepare(records: readonly KafkaRecord[]): Promise<Map<string, Message[]>> {
    await this.values?.resolve(records);
    let byTopic = groupByTopic(records);
    await this.ensure(byTopic.keys());
    if (this.partitionMissing !== undefined && records.some((r) => r.partition !== undefined)) {
      const checked = await this.checkPartitions(records, this.partitionMissing);
      if (checked !== records) {
        byTopic = groupByTopic(checked);
        await this.ensure(byTopic.keys());
      }
    }
    return byTopic;
  }

  async ensure(topics: Iterable<string>): Promise<void> {
    const missing = [...new Set(topics)].filter((t) => !this.known.has(t));
    if (missing.length === 0) return;
    const existing = new Set(await this.admin.listTopics());
    const toCreate = missing.filter((t) => !existing.has(t));
    if (toCreate.length > 0) {
      const created = await this.admin.createTopics({
        waitForLeaders: true,
        topics: toCreate.map((topic) => ({
          topic,
          numPartitions: this.settings.partitions,
          replicationFactor: this.settings.replicationFactor,
        })),
      });
      this.log.info(
        { topics: toCreate, partitions: this.settings.partitions, created },
        'created topics',
      );
    }
    for (const topic of missing) this.known.add(topic);
  }

  /** The records with each one whose partition its topic lacks replaced (same array when none). */
  private async checkPartitions(
    records: readonly KafkaRecord[],
    missing: PartitionMissing,
  ): Promise<readonly KafkaRecord[]> {
    const outside = (r: KafkaRecord) =>
      r.partition !== undefined && r.partition >= (this.partitionCounts.get(r.topic) ?? 0);
    // Counts are learned once per topic, and again when a record looks outside (partitions added).
    const stale = new Set(records.filter(outside).map((r) => r.topic));
    if (stale.size > 0) {
      const { topics } = await this.admin.fetchTopicMetadata({ topics: [...stale] });
      for (const { name, partitions } of topics) this.partitionCounts.set(name, partitions.length);
    }
    if (!records.some(outside)) return records;
    return records.map((r) => (outside(r) ? missing(r, this.partitionCounts.get(r.topic)!) : r));
  }
}
