import { encodePartitionBatch, type BatchMessage } from './record-batch';

/**
 * The pieces of the relay's faster kafkajs produce path (installed by `install.ts`): each one
 * gives the same result as the kafkajs code it stands in for (unit tests compare them).
 */
export interface EncoderInstance {
  buf: Buffer;
  offset: number;
  writeString(value: string | null): EncoderInstance;
  writeInt16(value: number): EncoderInstance;
  writeInt32(value: number): EncoderInstance;
  writeArray(values: unknown[]): EncoderInstance;
}
export type EncoderClass = (new (initialSize?: number) => EncoderInstance) & {
  nextPowerOfTwo(value: number): number;
  prototype: EncoderInstance & {
    ensureAvailable(length: number): void;
    writeUVarInt(value: number): EncoderInstance;
  };
};

/** Partitions of one topic, as kafkajs' producer passes them to the Produce request. */
export interface TopicData {
  topic: string;
  partitions: Array<{ partition: number; firstSequence: number; messages: BatchMessage[] }>;
}
export interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}
export type ProduceRequest = (args: ProduceArgs) => { encode(): Promise<unknown> } & object;

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

/** murmur2 as the Java client computes it, in 32-bit arithmetic (kafkajs' seed and constants). */
export function murmur2(key: unknown): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const length4 = Math.floor(length / 4);
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

/**
 * kafkajs' Produce v3 request with uncompressed partitions written by `encodePartitionBatch`;
 * anything it does not handle (compression, unusual input) is encoded by kafkajs itself.
 */
export function fastProduceRequest(general: ProduceRequest, Encoder: EncoderClass): ProduceRequest {
  const NONE = 0;
  return (args) => {
    const request = general(args);
    if ((args.compression ?? NONE) !== NONE) return request;
    return {
      ...request,
      encode: async () => encodeUncompressed(args, Encoder) ?? request.encode(),
    };
  };
}

function encodeUncompressed(args: ProduceArgs, Encoder: EncoderClass): EncoderInstance | undefined {
  const transactionalId = args.transactionalId ?? null;
  const producerId = args.producerId ?? -1;
  const producerEpoch = args.producerEpoch ?? 0;
  const topics: EncoderInstance[] = [];
  for (const { topic, partitions } of args.topicData) {
    const encoded: EncoderInstance[] = [];
    for (const { partition, firstSequence, messages } of partitions) {
      // As kafkajs' partition encoder: "now" for messages without a timestamp, and the first and
      // largest timestamp from the (string-)sorted list.
      const dateNow = Date.now();
      const stamps = messages
        .map((m) => m.timestamp)
        .filter((t) => t !== null && t !== undefined)
        .sort();
      const timestamps = stamps.length === 0 ? [dateNow] : stamps;
      const buffer = encodePartitionBatch({
        partition,
        messages,
        firstTimestamp: Number(timestamps[0]),
        maxTimestamp: Number(timestamps[timestamps.length - 1]),
        dateNow,
        transactional: transactionalId !== null,
        producerId,
        producerEpoch,
        firstSequence,
      });
      if (buffer === undefined) return undefined;
      const partitionEncoder = new Encoder(0);
      partitionEncoder.buf = buffer;
      partitionEncoder.offset = buffer.length;
      encoded.push(partitionEncoder);
    }
    topics.push(new Encoder().writeString(topic).writeArray(encoded));
  }
  return new Encoder()
    .writeString(transactionalId)
    .writeInt16(args.acks)
    .writeInt32(args.timeout)
    .writeArray(topics);
}

/**
 * The encoder's buffers grown without zero-filling and its unsigned varints written in place
 * (kafkajs builds an array and a Buffer per varint). Returns the new `writeUVarInt`.
 */
export function speedUpEncoder(Encoder: EncoderClass): unknown {
  const ensureAvailable = (encoder: EncoderInstance, length: number) => {
    if (encoder.offset + length > encoder.buf.length) {
      const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(encoder.offset + length));
      encoder.buf.copy(grown, 0, 0, encoder.offset);
      encoder.buf = grown;
    }
  };
  Encoder.prototype.ensureAvailable = function (this: EncoderInstance, length: number) {
    ensureAvailable(this, length);
  };
  const writeUVarInt = function writeUVarInt(this: EncoderInstance, value: number) {
    ensureAvailable(this, 5);
    while ((value & 0xffffff80) !== 0) {
      this.buf[this.offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.offset++] = value & 0x7f;
    return this;
  };
  Encoder.prototype.writeUVarInt = writeUVarInt;
  return writeUVarInt;
}
