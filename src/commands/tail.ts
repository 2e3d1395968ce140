import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface TailOptions {
  topic: string;
  fromBeginning: boolean;
  /** Stop after this many records (undefined: until interrupted). */
  max: number | undefined;
  json: boolean;
}

export interface TailedRecord {
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  headers: Record<string, string>;
  value: string | null;
  /** How `value` is written: utf8 text, or base64 for binary values (Avro). */
  valueEncoding: 'utf8' | 'base64' | null;
}

function isText(buffer: Buffer): boolean {
  const text = buffer.toString('utf8');
  // Valid UTF-8 round-trips; control characters other than tab and newlines mean binary.
  if (!Buffer.from(text, 'utf8').equals(buffer)) return false;
  for (const byte of buffer)
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  return true;
}

export function tailedRecord(partition: number, message: KafkaMessage): TailedRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value)
      ? value.map((v) => v.toString()).join(',')
      : value.toString();
  }
  const value = message.value;
  const text = value !== null && isText(value);
  return {
    partition,
    offset: message.offset,
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    key: message.key === null ? null : message.key.toString('utf8'),
    headers,
    value: value === null ? null : text ? value.toString('utf8') : value.toString('base64'),
    valueEncoding: value === null ? null : text ? 'utf8' : 'base64',
  };
}

/** One record for a terminal: position and key, headers, value. */
export function formatRecord(r: TailedRecord): string {
  const headers = Object.entries(r.headers)
    .map(([k, v]) => `${k}=${v}`)
    .join('  ');
  const value =
    r.value === null
      ? '(null: tombstone)'
      : r.valueEncoding === 'base64'
        ? `(binary, ${Buffer.from(r.value, 'base64').length} bytes, base64) ${r.value}`
        : r.value;
  return `partition ${r.partition}  offset ${r.offset}  ${r.timestamp}  key ${r.key ?? '(null)'}\n  headers ${headers || '(none)'}\n  value   ${value}\n`;
}

/**
 * Reads a topic and writes each record readably (or as JSON lines). A throw-away consumer
 * group is used and deleted afterwards; offsets of real consumer groups are never touched.
 * Resolves with the number of records printed when `max` is reached or `stop` fires.
 */
export async function tailTopic(
  kafka: Kafka,
  options: TailOptions,
  out: (text: string) => void,
  stop: AbortSignal,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(options.topic)) {
      throw new Error(`topic ${options.topic} does not exist`);
    }
    const groupId = `outbox-relay-tail-${randomUUID()}`;
    // read_committed (kafkajs' default, spelled out): aborted exactly-once records never show.
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      readUncommitted: false,
    });
    let printed = 0;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    if (options.max === 0) finish();
    stop.addEventListener('abort', () => finish(), { once: true });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning });
      // A throw-away group: committing its offsets would only delay the next fetch.
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (options.max !== undefined && printed >= options.max) return;
          const record = tailedRecord(partition, message);
          out(options.json ? `${JSON.stringify(record)}\n` : formatRecord(record));
          printed++;
          if (options.max !== undefined && printed >= options.max) finish();
          await Promise.resolve();
        },
      });
      await done;
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return printed;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
