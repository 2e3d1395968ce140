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

/**
 * A partition's measurements, one record after another in a number array (no object per record):
 * timestamp delta, key length, value length, header count, body size, then each header's name
 * length and value length. Lengths are -1 for null. The keys, values and headers themselves are
 * read again from the messages when writing.
 */
const RECORD_FIELDS = 5;

/** `sizes` with room for `more` numbers after `used` (grown by doubling). */
function room(sizes: Float64Array, used: number, more: number): Float64Array {
  if (used + more <= sizes.length) return sizes;
  const grown = new Float64Array(Math.max(sizes.length * 2, used + more));
  grown.set(sizes);
  return grown;
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
  // Room for every record with four headers; grown if they have more.
  let sizes: Float64Array = new Float64Array(count * (RECORD_FIELDS + 8));
  let used = 0;
  let recordsSize = 0;

  for (let i = 0; i < count; i++) {
    const message = messages[i]!;
    const timestampDelta = Number(message.timestamp || dateNow) - firstTimestamp;
    if (!Number.isSafeInteger(timestampDelta) || Math.abs(timestampDelta) > 2 ** 51) return;
    const key = plainBytes(message.key);
    const value = plainBytes(message.value);
    if (key === undefined || value === undefined) return;
    const keyLength = key === null ? -1 : Buffer.byteLength(key);
    const valueLength = value === null ? -1 : Buffer.byteLength(value);

    sizes = room(sizes, used, RECORD_FIELDS);
    const at = used;
    used += RECORD_FIELDS;
    let headerCount = 0;
    let headersSize = 0;
    const source = message.headers ?? undefined; // kafkajs may pass null for "no headers"
    if (source !== undefined) {
      for (const name in source) {
        if (!Object.hasOwn(source, name)) continue;
        const entry = source[name];
        const nameLength = Buffer.byteLength(name);
        const list = Array.isArray(entry) ? (entry as unknown[]) : undefined;
        const n = list === undefined ? 1 : list.length;
        sizes = room(sizes, used, 2 * n);
        for (let h = 0; h < n; h++) {
          const headerValue = list === undefined ? entry : list[h];
          if (typeof headerValue !== 'string' && !Buffer.isBuffer(headerValue)) return;
          const valueBytes = Buffer.byteLength(headerValue);
          sizes[used++] = nameLength;
          sizes[used++] = valueBytes;
          headersSize +=
            sizeOfVarInt(nameLength) + nameLength + sizeOfVarInt(valueBytes) + valueBytes;
          headerCount++;
        }
      }
    }
    const bodySize =
      1 +
      sizeOfVarLong(timestampDelta) +
      sizeOfVarInt(i) +
      sizeOfVarInt(keyLength) +
      Math.max(keyLength, 0) +
      sizeOfVarInt(valueLength) +
      Math.max(valueLength, 0) +
      sizeOfVarInt(headerCount) +
      headersSize;
    sizes[at] = timestampDelta;
    sizes[at + 1] = keyLength;
    sizes[at + 2] = valueLength;
    sizes[at + 3] = headerCount;
    sizes[at + 4] = bodySize;
    recordsSize += sizeOfVarInt(bodySize) + bodySize;
  }

  // Attributes .. FirstSequence (36 bytes) + the records' count (4).
  const bodyLength = 40 + recordsSize;
  const batchLength = 4 + 1 + 4 + bodyLength;
  const size = 4 + 4 + 8 + 4 + batchLength;
  const measured = sizes;
  return { size, write: (buf, at) => writePlanned(buf, at, batch, measured, size) };
}

function writePlanned(
  buf: Buffer,
  start: number,
  batch: PartitionBatch,
  sizes: Float64Array,
  size: number,
): number {
  const { messages } = batch;
  const count = messages.length;
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

  let read = 0;
  for (let i = 0; i < count; i++) {
    const message = messages[i]!;
    at = writeVarInt(buf, at, sizes[read + 4]!);
    buf[at++] = 0; // record attributes
    at = writeVarLong(buf, at, sizes[read]!);
    at = writeVarInt(buf, at, i);
    at = writeBytes(buf, at, plainBytes(message.key)!, sizes[read + 1]!);
    at = writeBytes(buf, at, plainBytes(message.value)!, sizes[read + 2]!);
    at = writeVarInt(buf, at, sizes[read + 3]!);
    read += RECORD_FIELDS;
    const source = message.headers ?? undefined;
    if (source === undefined) continue;
    for (const name in source) {
      if (!Object.hasOwn(source, name)) continue;
      const entry = source[name];
      if (Array.isArray(entry)) {
        for (const headerValue of entry as Bytes[]) {
          at = writeBytes(buf, at, name, sizes[read++]!);
          at = writeBytes(buf, at, headerValue, sizes[read++]!);
        }
      } else {
        at = writeBytes(buf, at, name, sizes[read++]!);
        at = writeBytes(buf, at, entry as Bytes, sizes[read++]!);
      }
    }
  }
  if (at !== total)
    throw new Error(`record batch size mismatch: wrote ${at - start} of ${size} bytes`);
  buf.writeUInt32BE(crc32c(buf.subarray(bodyStart, total)), crcAt);
  return total;
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
