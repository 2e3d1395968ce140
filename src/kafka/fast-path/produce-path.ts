import { planPartitionBatch, type BatchMessage } from './record-batch';

/**
 * The pieces of the relay's faster kafkajs produce path (installed by `install.ts`): each one
 * gives the same result as the kafkajs code it stands in for (unit tests compare them).
 */
export interface EncoderInstance {
  buf: Buffer;
  offset: number;
  /** The bytes written so far. */
  readonly buffer: Buffer;
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

/** A request body measured before it is written: its size, and a writer (returns the end). */
export interface PlannedPayload {
  size: number;
  write(buf: Buffer, at: number): number;
}

/** What kafkajs' `protocol/request` frames: a request with `encode`, and optionally `plan`. */
export interface KafkaRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<EncoderInstance | { buffer: Buffer }>;
  /** The body measured up front (the fast Produce request), or undefined to use `encode`. */
  plan?: () => PlannedPayload | undefined;
}

/**
 * kafkajs' Produce v3 request with uncompressed partitions written by `planPartitionBatch`;
 * anything it does not handle (compression, unusual input) is encoded by kafkajs itself. Its
 * `plan` lets `frameRequest` write every record batch straight into the buffer that goes to the
 * socket; `encode` (the same bytes) is what kafkajs' own framing would call.
 */
export function fastProduceRequest(general: ProduceRequest, Encoder: EncoderClass): ProduceRequest {
  const NONE = 0;
  return (args) => {
    const request = general(args);
    if ((args.compression ?? NONE) !== NONE) return request;
    const plan = () => planUncompressed(args);
    return {
      ...request,
      plan,
      encode: async () => {
        const planned = plan();
        return planned === undefined ? request.encode() : written(planned, Encoder);
      },
    };
  };
}

/** The request body `planned` in an encoder of its own (for callers other than `frameRequest`). */
function written(planned: PlannedPayload, Encoder: EncoderClass): EncoderInstance {
  const encoder = new Encoder(0);
  encoder.buf = Buffer.allocUnsafe(planned.size);
  encoder.offset = planned.write(encoder.buf, 0);
  return encoder;
}

/**
 * transactional_id NULLABLE_STRING, acks INT16, timeout INT32, [topic STRING, [partition entry]];
 * undefined if a partition is left to kafkajs.
 */
function planUncompressed(args: ProduceArgs): PlannedPayload | undefined {
  const transactionalId = args.transactionalId ?? null;
  const producerId = args.producerId ?? -1;
  const producerEpoch = args.producerEpoch ?? 0;
  const topics: Array<{ topic: string; partitions: PlannedPayload[] }> = [];
  let size = stringSize(transactionalId) + 2 + 4 + 4;
  for (const { topic, partitions } of args.topicData) {
    const planned: PlannedPayload[] = [];
    size += stringSize(topic) + 4;
    for (const { partition, firstSequence, messages } of partitions) {
      const dateNow = Date.now();
      const [firstTimestamp, maxTimestamp] = timestampRange(messages, dateNow);
      const batch = planPartitionBatch({
        partition,
        messages,
        firstTimestamp,
        maxTimestamp,
        dateNow,
        transactional: transactionalId !== null,
        producerId,
        producerEpoch,
        firstSequence,
      });
      if (batch === undefined) return undefined;
      planned.push(batch);
      size += batch.size;
    }
    topics.push({ topic, partitions: planned });
  }
  return {
    size,
    write: (buf, at) => {
      at = writeString(buf, at, transactionalId);
      at = buf.writeInt16BE(args.acks, at);
      at = buf.writeInt32BE(args.timeout, at);
      at = buf.writeInt32BE(topics.length, at);
      for (const { topic, partitions } of topics) {
        at = writeString(buf, at, topic);
        at = buf.writeInt32BE(partitions.length, at);
        for (const partition of partitions) at = partition.write(buf, at);
      }
      return at;
    },
  };
}

/**
 * A batch's first and largest timestamp as kafkajs' partition encoder picks them: the first and
 * last of the messages' timestamps sorted as strings (Array.prototype.sort's order), "now" when
 * none has one. Found in one pass, without the three arrays kafkajs builds.
 */
function timestampRange(messages: readonly BatchMessage[], dateNow: number): [number, number] {
  let first: string | undefined;
  let last: string | undefined;
  for (const { timestamp } of messages) {
    if (timestamp === null || timestamp === undefined) continue;
    const text = String(timestamp);
    if (first === undefined || text < first) first = text;
    if (last === undefined || text > last) last = text;
  }
  return first === undefined ? [dateNow, dateNow] : [Number(first), Number(last)];
}

/**
 * kafkajs' request framing (`protocol/request`): INT32 size, then api key INT16, api version
 * INT16, correlation id INT32, client id NULLABLE_STRING and the body, in one buffer of the exact
 * size. kafkajs writes the same bytes through two growing encoders, copying the body twice; a
 * planned body (the fast Produce request) is written into it directly, any other is copied once.
 */
export function frameRequest(Encoder: EncoderClass) {
  return async ({
    correlationId,
    clientId,
    request,
  }: {
    correlationId: number;
    clientId: string | null | undefined;
    request: KafkaRequest;
  }): Promise<EncoderInstance> => {
    const planned = request.plan?.();
    const body = planned === undefined ? (await request.encode()).buffer : undefined;
    const headerSize = 2 + 2 + 4 + stringSize(clientId);
    const size = headerSize + (planned?.size ?? body!.length);
    const encoder = new Encoder(0);
    const buf = Buffer.allocUnsafe(4 + size);
    let at = buf.writeInt32BE(size, 0);
    at = buf.writeInt16BE(request.apiKey, at);
    at = buf.writeInt16BE(request.apiVersion, at);
    at = buf.writeInt32BE(correlationId, at);
    at = writeString(buf, at, clientId);
    at = planned === undefined ? at + body!.copy(buf, at) : planned.write(buf, at);
    if (at !== buf.length) throw new Error(`request size mismatch: wrote ${at} of ${buf.length}`);
    encoder.buf = buf;
    encoder.offset = at;
    return encoder;
  };
}

/** Bytes of a NULLABLE_STRING: INT16 length (-1 for null) + UTF-8. */
function stringSize(value: string | null | undefined): number {
  return value === null || value === undefined ? 2 : 2 + Buffer.byteLength(value);
}

function writeString(buf: Buffer, at: number, value: string | null | undefined): number {
  if (value === null || value === undefined) return buf.writeInt16BE(-1, at);
  at = buf.writeInt16BE(Buffer.byteLength(value), at);
  return at + buf.write(value, at);
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
