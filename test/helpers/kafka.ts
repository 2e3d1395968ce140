import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { uniqueName } from './names';

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
 * order). Returning on timeout lets the test's assertion show what did arrive.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  { count, timeoutMs = 30_000 }: { count: number; timeoutMs?: number },
): Promise<ConsumedRecord[]> {
  const consumer = kafkaClient(brokers).consumer({
    groupId: uniqueName('reader'),
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
  });
  const records: ConsumedRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, timeoutMs);
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
            if (records.length >= count) done();
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
