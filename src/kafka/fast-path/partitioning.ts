import { randomBytes } from 'node:crypto';

/**
 * Which partition each record goes to, as kafkajs decides it (the Java client's murmur2 for
 * keys, round robin otherwise), with less work per message; part of the fast path (`install.ts`).
 */

/** kafkajs' grouping of a topic's messages by partition, in send order, in linear time. */
export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}): Record<number, unknown[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, unknown[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition];
    if (current === undefined) result[partition] = [message];
    else current.push(message);
  }
  return result;
}

/**
 * murmur2 as the Java client computes it over the key's UTF-8 bytes, in 32-bit arithmetic
 * (kafkajs' seed and constants). An ASCII string is hashed as it is: its UTF-16 units are its
 * UTF-8 bytes, so the usual key (a UUID, a number) costs no Buffer.
 */
export function murmur2(key: unknown): number {
  const data = Buffer.isBuffer(key) ? key : asciiOrBytes(String(key));
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const length4 = Math.floor(length / 4);
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      byteAt(data, i4) |
      (byteAt(data, i4 + 1) << 8) |
      (byteAt(data, i4 + 2) << 16) |
      (byteAt(data, i4 + 3) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest === 3) h ^= byteAt(data, tail + 2) << 16;
  if (rest >= 2) h ^= byteAt(data, tail + 1) << 8;
  if (rest >= 1) {
    h ^= byteAt(data, tail);
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

interface PartitionerArgs {
  topic: string;
  partitionMetadata: Array<{ partitionId: number; leader: number }>;
  message: { partition?: number | null; key?: unknown };
}

const toPositive = (x: number) => x & 0x7fffffff;

/**
 * kafkajs' partitioner factory (`partitioners/legacy/partitioner`, its default partitioner's too)
 * with the same choices: the message's own partition; else the key's hash modulo the partition
 * count; else round robin, from a random start per topic, over the partitions that have a leader.
 * kafkajs lists those partitions for every message; here only keyless messages need the list.
 */
export function partitionerFactory(
  hash: (key: unknown) => number,
): () => (args: PartitionerArgs) => number {
  return () => {
    const counters = new Map<string, number>();
    const next = (topic: string) => {
      const count = (counters.get(topic) ?? randomBytes(4).readUInt32BE(0)) + 1;
      counters.set(topic, count);
      return toPositive(count);
    };
    return ({ topic, partitionMetadata, message }) => {
      if (message.partition !== null && message.partition !== undefined) return message.partition;
      const partitions = partitionMetadata.length;
      if (message.key !== null && message.key !== undefined)
        return toPositive(hash(message.key)) % partitions;
      const available = partitionMetadata.filter((p) => p.leader >= 0);
      if (available.length > 0) return available[next(topic) % available.length]!.partitionId;
      return next(topic) % partitions; // none has a leader: one of them all the same
    };
  };
}

const byteAt = (data: Buffer | string, i: number): number =>
  typeof data === 'string' ? data.charCodeAt(i) : data[i]!;

/** The string itself when it is all ASCII (its own UTF-8 bytes), else its UTF-8 bytes. */
function asciiOrBytes(text: string): string | Buffer {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.from(text);
  return text;
}
