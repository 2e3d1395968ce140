import { crc32c } from './crc32c';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs' internal modules, untyped */
const Long = require('kafkajs/src/utils/long') as {
  fromValue(value: unknown): { getHighBits(): number; getLowBits(): number };
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** A message as kafkajs hands it to the produce request (after partitioning). */
export interface BatchMessage {
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown> | undefined;
  timestamp?: string | number | undefined;
}

export interface PartitionBatch {
  partition: number;
  messages: readonly BatchMessage[];
  firstTimestamp: number;
  maxTimestamp: number;
  /** The time kafkajs gives messages without a timestamp. */
  dateNow: number;
  transactional: boolean;
  producerId: unknown;
  producerEpoch: number;
  firstSequence: number;
}

type Bytes = string | Buffer;

/** A partition's entry, measured: its size in bytes, and a writer of those bytes at `at` (returns the end). */
export interface PlannedBatch {
  size: number;
  write(buf: Buffer, at: number): number;
}

interface Plan {
  timestampDelta: number;
  key: Bytes | null;
  keyLength: number;
  value: Bytes | null;
  valueLength: number;
  /** This record's headers in `headerParts`: [headersStart, headersEnd). */
  headersStart: number;
  headersEnd: number;
  bodySize: number;
}

/**
 * One partition's entry of a Produce request (v3+) for an uncompressed record batch, measured
 * first and then written straight into the request's one buffer: the bytes kafkajs' Record +
 * RecordBatch + partition encoder produce (the unit tests compare the two byte for byte), without
 * an encoder, a growing buffer and a copy per record, header and nesting level.
 *
 * Returns undefined for input it does not handle (a key, value or header value that is not a
 * string, Buffer or - for keys and values - null; a timestamp delta that is not a safe integer),
 * which the caller leaves to kafkajs' own encoders.
 *
 * partition => INT32, record_set => INT32 size + RecordBatch:
 *   FirstOffset INT64, Length INT32, PartitionLeaderEpoch INT32, Magic INT8, CRC UINT32,
 *   Attributes INT16, LastOffsetDelta INT32, FirstTimestamp INT64, MaxTimestamp INT64,
 *   ProducerId INT64, ProducerEpoch INT16, FirstSequence INT32, [Record]
 */
export function planPartitionBatch(batch: PartitionBatch): PlannedBatch | undefined {
  const { messages, firstTimestamp, dateNow } = batch;
  const count = messages.length;
  const plans = new Array<Plan>(count);
  /** Every record's headers, one after the other: name, its byte length, value, its byte length. */
  const headerParts: Array<Bytes | number> = [];
  let recordsSize = 0;

  for (let i = 0; i < count; i++) {
    const message = messages[i]!;
    const timestampDelta = Number(message.timestamp || dateNow) - firstTimestamp;
    if (!Number.isSafeInteger(timestampDelta) || Math.abs(timestampDelta) > 2 ** 51) return;

    const key = plainBytes(message.key);
    const value = plainBytes(message.value);
    if (key === undefined || value === undefined) return;

    const headersStart = headerParts.length;
    const source = message.headers ?? undefined; // kafkajs may pass null for "no headers"
    if (source !== undefined) {
      for (const name of Object.keys(source)) {
        const entry = source[name];
        if (Array.isArray(entry)) {
          for (const headerValue of entry as unknown[])
            if (!addHeader(headerParts, name, headerValue)) return;
        } else if (!addHeader(headerParts, name, entry)) return;
      }
    }
    const headersEnd = headerParts.length;

    const keyLength = key === null ? -1 : Buffer.byteLength(key);
    const valueLength = value === null ? -1 : Buffer.byteLength(value);
    let bodySize =
      1 +
      sizeOfVarLong(timestampDelta) +
      sizeOfVarInt(i) +
      sizeOfVarInt(keyLength) +
      Math.max(keyLength, 0) +
      sizeOfVarInt(valueLength) +
      Math.max(valueLength, 0) +
      sizeOfVarInt((headersEnd - headersStart) / 4);
    for (let h = headersStart; h < headersEnd; h += 4) {
      const nameLength = headerParts[h + 1] as number;
      const valueBytes = headerParts[h + 3] as number;
      bodySize += sizeOfVarInt(nameLength) + nameLength + sizeOfVarInt(valueBytes) + valueBytes;
    }
    plans[i] = {
      timestampDelta,
      key,
      keyLength,
      value,
      valueLength,
      headersStart,
      headersEnd,
      bodySize,
    };
    recordsSize += sizeOfVarInt(bodySize) + bodySize;
  }

  // Attributes .. FirstSequence (36 bytes) + the records' count (4).
  const bodyLength = 40 + recordsSize;
  const batchLength = 4 + 1 + 4 + bodyLength;
  const size = 4 + 4 + 8 + 4 + batchLength;
  return { size, write: (buf, at) => writePlanned(buf, at, batch, plans, headerParts, size) };
}

function writePlanned(
  buf: Buffer,
  start: number,
  batch: PartitionBatch,
  plans: Plan[],
  headerParts: Array<Bytes | number>,
  size: number,
): number {
  const count = plans.length;
  const total = start + size;
  const batchLength = size - 20;
  let at = start;
  at = buf.writeInt32BE(batch.partition, at);
  at = buf.writeInt32BE(8 + 4 + batchLength, at);
  at = writeInt64(buf, at, 0);
  at = buf.writeInt32BE(batchLength, at);
  at = buf.writeInt32BE(0, at); // partition leader epoch
  at = buf.writeInt8(2, at); // magic
  const crcAt = at;
  at += 4;
  const bodyStart = at;
  at = buf.writeInt16BE(batch.transactional ? 16 : 0, at); // no compression, create time
  at = buf.writeInt32BE(count - 1, at);
  at = writeInt64(buf, at, batch.firstTimestamp);
  at = writeInt64(buf, at, batch.maxTimestamp);
  at = writeInt64(buf, at, batch.producerId);
  at = buf.writeInt16BE(batch.producerEpoch, at);
  at = buf.writeInt32BE(batch.firstSequence, at);
  at = buf.writeInt32BE(count, at);

  for (let i = 0; i < count; i++) {
    const plan = plans[i]!;
    at = writeVarInt(buf, at, plan.bodySize);
    buf[at++] = 0; // record attributes
    at = writeVarLong(buf, at, plan.timestampDelta);
    at = writeVarInt(buf, at, i);
    at = writeBytes(buf, at, plan.key, plan.keyLength);
    at = writeBytes(buf, at, plan.value, plan.valueLength);
    at = writeVarInt(buf, at, (plan.headersEnd - plan.headersStart) / 4);
    for (let h = plan.headersStart; h < plan.headersEnd; h += 4) {
      at = writeBytes(buf, at, headerParts[h] as Bytes, headerParts[h + 1] as number);
      at = writeBytes(buf, at, headerParts[h + 2] as Bytes, headerParts[h + 3] as number);
    }
  }
  if (at !== total)
    throw new Error(`record batch size mismatch: wrote ${at - start} of ${size} bytes`);
  buf.writeUInt32BE(crc32c(buf.subarray(bodyStart, total)), crcAt);
  return total;
}

/** Adds one header (name, value and their byte lengths); false for a value kafkajs would not take. */
function addHeader(parts: Array<Bytes | number>, name: string, value: unknown): boolean {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) return false;
  parts.push(name, Buffer.byteLength(name), value, Buffer.byteLength(value));
  return true;
}

/** A key or value as kafkajs writes it: null, a Buffer, or a string; else undefined. */
function plainBytes(value: unknown): Bytes | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  return undefined;
}

const zigZag = (value: number) => (value << 1) ^ (value >> 31);

function sizeOfVarInt(value: number): number {
  let encoded = zigZag(value) >>> 0;
  let bytes = 1;
  while (encoded >= 0x80) {
    bytes++;
    encoded >>>= 7;
  }
  return bytes;
}

/** Zigzag of a safe integer (|value| <= 2^51) as a non-negative number, without 64-bit ints. */
const zigZagLong = (value: number) => (value >= 0 ? value * 2 : -value * 2 - 1);

function sizeOfVarLong(value: number): number {
  let encoded = zigZagLong(value);
  let bytes = 1;
  while (encoded >= 0x80) {
    bytes++;
    encoded = Math.floor(encoded / 128);
  }
  return bytes;
}

function writeVarInt(buf: Buffer, at: number, value: number): number {
  let encoded = zigZag(value) >>> 0;
  while (encoded >= 0x80) {
    buf[at++] = (encoded & 0x7f) | 0x80;
    encoded >>>= 7;
  }
  buf[at++] = encoded;
  return at;
}

function writeVarLong(buf: Buffer, at: number, value: number): number {
  let encoded = zigZagLong(value);
  while (encoded >= 0x80) {
    buf[at++] = (encoded % 128) | 0x80;
    encoded = Math.floor(encoded / 128);
  }
  buf[at++] = encoded;
  return at;
}

function writeInt64(buf: Buffer, at: number, value: unknown): number {
  const long = Long.fromValue(value);
  buf.writeInt32BE(long.getHighBits(), at);
  buf.writeInt32BE(long.getLowBits(), at + 4);
  return at + 8;
}

/** varint length (-1 for null) + the bytes of a string (UTF-8) or Buffer. */
function writeBytes(buf: Buffer, at: number, value: Bytes | null, length: number): number {
  at = writeVarInt(buf, at, length);
  if (length <= 0 || value === null) return at;
  if (typeof value === 'string') {
    // As many UTF-8 bytes as UTF-16 units means plain ASCII: short ones (ids, types, header names)
    // are copied here, cheaper than a call into buf.write.
    if (length === value.length && length <= SHORT_ASCII) {
      for (let i = 0; i < length; i++) buf[at + i] = value.charCodeAt(i);
    } else buf.write(value, at, length, 'utf8');
  } else value.copy(buf, at);
  return at + length;
}

/** Longest ASCII string written byte by byte rather than through buf.write. */
const SHORT_ASCII = 64;
