import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { uniqueName } from './names';
import { waitFor } from './wait-for';

/** A record as a consumer of the topic sees it. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  value: Buffer | null;
  timestamp: string;
}

export function kafkaClient(brokers: string[]): Kafka {
  return new Kafka({ clientId: uniqueName('test'), brokers, logLevel: logLevel.NOTHING });
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

/**
 * Reads `topic` from the beginning with a fresh consumer group until `count` records arrived or
 * `timeoutMs` passed, and returns what it read (in arrival order; per partition that is offset
 * order). Returning on timeout lets the test's assertion show what did arrive. The topic may not
 * exist yet (the relay creates it with the first event): it waits for it within the same bound.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  {
    count,
    timeoutMs = 30_000,
    settleMs = 0,
    until: untilGiven,
    distinctIds,
  }: {
    count: number;
    timeoutMs?: number;
    /** After `count` records arrived, keep reading this long to catch unexpected extra records. */
    settleMs?: number;
    /** Finish (after `settleMs`) as soon as this holds, instead of waiting for `count` records. */
    until?: (records: ConsumedRecord[]) => boolean;
    /**
     * Finish (after `settleMs`) once this many distinct `id` headers were read: with duplicates
     * the record count is unknown. Overrides `until`.
     */
    distinctIds?: number;
  },
): Promise<ConsumedRecord[]> {
  const ids = new Set<string>();
  const until =
    distinctIds === undefined
      ? untilGiven
      : (read: ConsumedRecord[]) => {
          ids.add(read[read.length - 1]?.headers.id ?? ''); // called once per record read
          return ids.size >= distinctIds;
        };
  const deadline = Date.now() + timeoutMs;
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return topics[0]?.partitions.every((p) => p.leader >= 0) === true;
      },
      { timeoutMs, intervalMs: 200, description: `topic ${topic} to exist` },
    ).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  if (Date.now() >= deadline) return [];
  const consumer = kafkaClient(brokers).consumer({
    groupId: uniqueName('reader'),
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
  });
  const records: ConsumedRecord[] = [];
  let finishing = false;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, Math.max(deadline - Date.now(), 0));
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (count <= 0) return done();
      consumer
        .run({
          eachMessage: async ({ topic: t, partition, message }) => {
            records.push({
              topic: t,
              partition,
              offset: message.offset,
              key: message.key === null ? null : message.key.toString('utf8'),
              headers: headerStrings(message.headers),
              value: message.value,
              timestamp: message.timestamp,
            });
            if (!finishing && (until === undefined ? records.length >= count : until(records))) {
              finishing = true;
              if (settleMs > 0) setTimeout(done, settleMs);
              else done();
            }
            return Promise.resolve();
          },
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
