import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';

export interface TopicSettings {
  partitions: number;
  /** -1: the broker's default.replication.factor. */
  replicationFactor: number;
}

/**
 * Creates topics the first time the relay publishes to them, with the configured partitions.
 * Topics that already exist (made by an operator or another tool) are used as they are.
 */
export class TopicCreator {
  private readonly known = new Set<string>();

  constructor(
    private readonly admin: Admin,
    private readonly settings: TopicSettings,
    private readonly log: Logger,
  ) {}

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
}
