/**
 * src/kafka/fast-path (installed in memory when the relay starts, before kafkajs loads) makes
 * kafkajs' produce path cheaper: single-pass record batches, varints written in place, linear
 * grouping by partition and a 32-bit murmur2. These tests hold it to what consumers and other
 * clients observe: the same bytes as kafkajs' own encoders, the same partition per key as the
 * Java client, records that decode to what was sent, and per-partition order kept.
 */
import { randomBytes } from 'node:crypto';
import {
  groupMessagesPerPartition,
  murmur2,
  partitionerFactory,
} from '../../../src/kafka/fast-path/partitioning';
import {
  fastProduceRequest,
  frameRequest,
  speedUpEncoder,
  type EncoderClass,
  type ProduceArgs,
  type ProduceRequest,
} from '../../../src/kafka/fast-path/produce-path';
import { crc32c } from '../../../src/kafka/fast-path/crc32c';
import type { PartitionerArgs } from 'kafkajs';
import { javaPartition } from '../../helpers/java-partitioner';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs' internal modules, untyped */
const Encoder = require('kafkajs/src/protocol/encoder') as new () => {
  writeVarInt(v: number): unknown;
  writeUVarInt(v: number): unknown;
  writeVarLong(v: number): unknown;
  buffer: Buffer;
};
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => {
  readVarInt(): number;
  readVarLong(): { toString(): string };
};
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (args: object) => Promise<{ buffer: Buffer }>;
};
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<{
  records: Array<{
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer>;
    timestamp: string;
    offset: string;
  }>;
}>;
type PartitionArgs = {
  partition: number;
  messages: Array<Record<string, unknown>>;
  transactionalId: string | null;
  firstSequence: number;
  producerId: unknown;
  producerEpoch: number;
};
/** kafkajs' own Produce v3 request, and the relay's built on it. */
const kafkajsProduce =
  require('kafkajs/src/protocol/requests/produce/v3/request') as ProduceRequest;
const KafkajsEncoder = require('kafkajs/src/protocol/encoder') as EncoderClass;
speedUpEncoder(KafkajsEncoder);
const produceRequest = fastProduceRequest(kafkajsProduce, KafkajsEncoder);
/** kafkajs' default partitioner with the relay's murmur2 (the factory kafkajs builds it with). */
const createPartitioner = require('kafkajs/src/producer/partitioners/legacy/partitioner') as (
  hash: (key: unknown) => number,
) => () => (args: PartitionerArgs) => number;
const partitionerWith = () => partitionerFactory(murmur2)() as (args: PartitionerArgs) => number;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: number): unknown };
/** kafkajs' own request framing (size, api key and version, correlation id, client id). */
const kafkajsFrame = require('kafkajs/src/protocol/request') as (args: {
  correlationId: number;
  clientId: string | null;
  request: object;
}) => Promise<{ buffer: Buffer }>;
/** kafkajs' Metadata v0 request (a request the relay does not plan). */
const metadataRequest = require('kafkajs/src/protocol/requests/metadata/v0/request') as (args: {
  topics: string[];
}) => object;
/* eslint-enable @typescript-eslint/no-require-imports */

const metadata = (partitions: number): PartitionerArgs['partitionMetadata'] =>
  Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

describe('the fast produce path', () => {
  it('partitions keyed records as the Java client does, for ASCII, other string and Buffer keys', () => {
    // javaPartition is written from the Java client's algorithm and checked against its output.
    const partitioner = partitionerWith();
    for (let i = 0; i < 3000; i++) {
      // ASCII keys (hashed as strings) and others (hashed as their UTF-8 bytes).
      const key = `order-${i}-${randomBytes(i % 13).toString('hex')}${i % 2 === 0 ? '' : '-ü'}`;
      const partitions = [1, 3, 6, 7, 12, 100][i % 6]!;
      const partitionFor = (k: string | Buffer) =>
        partitioner({
          topic: 't',
          partitionMetadata: metadata(partitions),
          message: { key: k, value: null },
        });
      expect(partitionFor(key)).toBe(javaPartition(key, partitions));
      expect(partitionFor(Buffer.from(key))).toBe(javaPartition(key, partitions));
    }
  });

  it("chooses partitions as kafkajs' partitioner does: own partition, key, round robin", () => {
    const ours = partitionerWith();
    const theirs = createPartitioner(murmur2)();
    // Partition 2 has no leader: round robin skips it (keyed records do not).
    const partitionMetadata = metadata(5).map((p) => ({
      ...p,
      leader: p.partitionId === 2 ? -1 : 1,
    }));
    const choose = (partitioner: typeof ours, message: PartitionerArgs['message']) =>
      partitioner({ topic: 't', partitionMetadata, message });
    for (let i = 0; i < 500; i++) {
      const message = {
        key: `agg-${i}`,
        value: null,
        ...(i % 3 === 0 ? { partition: i % 5 } : {}),
      };
      expect(choose(ours, message)).toBe(choose(theirs, message));
    }
    // Keyless: consecutive records go to consecutive partitions with a leader, from any start.
    const keyless = Array.from({ length: 12 }, () => choose(ours, { key: null, value: null }));
    const order = [0, 1, 3, 4];
    const start = order.indexOf(keyless[0]!);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(keyless).toEqual(keyless.map((_, i) => order[(start + i) % order.length]));
    // No partition with a leader: still one of the topic's partitions.
    const leaderless = metadata(3).map((p) => ({ ...p, leader: -1 }));
    for (let i = 0; i < 6; i++)
      expect([0, 1, 2]).toContain(
        ours({ topic: 't', partitionMetadata: leaderless, message: { key: null, value: null } }),
      );
  });

  it('checksums batches with CRC-32C as kafkajs does, for every tail length', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const kafkajsCrc = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
    // The standard check value of CRC-32C.
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    for (const length of [...Array.from({ length: 70 }, (_, i) => i), 1_000, 65_537]) {
      const bytes = randomBytes(length);
      expect(crc32c(bytes)).toBe(kafkajsCrc(bytes));
      // Views into a larger buffer (as the encoder passes them) at every offset from a 4-byte
      // boundary of the memory, with bytes either side that must not count.
      for (let offset = 0; offset < 8; offset++) {
        const memory = new Uint8Array(new ArrayBuffer(offset + length + 8)).fill(0xa5);
        memory.set(bytes, offset);
        expect(crc32c(memory.subarray(offset, offset + length))).toBe(kafkajsCrc(bytes));
      }
    }
  });

  it('writes varints that its decoder reads back, at every length boundary', () => {
    const values = [
      0,
      1,
      -1,
      63,
      64,
      -64,
      -65,
      8191,
      8192,
      -8193,
      2 ** 20,
      2 ** 31 - 1,
      -(2 ** 31),
    ];
    const encoder = new Encoder();
    for (const v of values) encoder.writeVarInt(v);
    for (const v of values) encoder.writeVarLong(v);
    const decoder = new Decoder(encoder.buffer);
    expect(values.map(() => decoder.readVarInt())).toEqual(values);
    expect(values.map(() => decoder.readVarLong().toString())).toEqual(values.map(String));
    // Unsigned: 7 bits per byte, high bit = more.
    const unsigned = new Encoder();
    unsigned.writeUVarInt(300);
    expect([...unsigned.buffer]).toEqual([0xac, 0x02]);
  });

  it('encodes record batches that decode to the records sent (keys, values, headers, timestamps)', async () => {
    const first = 1_760_000_000_000;
    const records = Array.from({ length: 500 }, (_, i) => ({
      key: i % 7 === 0 ? null : `aggregate-${i}`,
      value: i % 11 === 0 ? null : randomBytes(i % 2000),
      headers: { id: `id-${i}`, type: 'OrderPlaced', aggregateType: 'order', empty: '' },
      timestamp: String(first + i * 3),
    }));
    // The way kafkajs' produce request builds each partition's batch.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => unknown;
    const batch = await RecordBatch({
      records: records.map((r, i) =>
        Record({ ...r, offsetDelta: i, timestampDelta: Number(r.timestamp) - first }),
      ),
      firstTimestamp: first,
      maxTimestamp: first + 499 * 3,
      lastOffsetDelta: records.length - 1,
    });
    const decoded = await decodeRecordBatch(new Decoder(batch.buffer));
    expect(decoded.records).toHaveLength(records.length);
    decoded.records.forEach((got, i) => {
      const sent = records[i]!;
      expect(got.offset).toBe(String(i));
      expect(got.timestamp).toBe(sent.timestamp);
      expect(got.key === null ? null : got.key.toString()).toBe(sent.key);
      expect(got.value === null ? null : Buffer.compare(got.value, sent.value!)).toBe(
        sent.value === null ? null : 0,
      );
      expect(
        Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)])),
      ).toEqual(sent.headers);
    });
  });

  describe('single-pass encoding of uncompressed partitions', () => {
    const text = (n: number) => 'ab\u00fc\u20ac\u{1f600}'.repeat(n).slice(0, n);
    const randomMessage = (i: number): Record<string, unknown> => {
      const headers: Record<string, unknown> = {};
      for (let h = 0; h < i % 5; h++) headers[`h${h}-${text(h)}`] = text(i % 40);
      if (i % 9 === 0) headers.multi = ['one', Buffer.from('two'), ''];
      if (i % 4 === 0) headers.bin = randomBytes(i % 50);
      return {
        key: [null, `agg-${i}`, Buffer.from(`k${i}`), text(i % 300)][i % 4],
        value: [null, randomBytes(i % 3000), text(i % 700), ''][i % 4],
        headers: i % 13 === 0 ? undefined : headers,
        // Out of order and sometimes absent: kafkajs sorts them and uses "now" for missing ones.
        timestamp: i % 17 === 0 ? undefined : String(1_760_000_000_000 + ((i * 7919) % 100_000)),
      };
    };

    /** One partition in a whole Produce request, as a request of its own. */
    const request = (args: PartitionArgs): ProduceArgs => ({
      acks: -1,
      timeout: 30_000,
      transactionalId: args.transactionalId,
      producerId: args.producerId,
      producerEpoch: args.producerEpoch,
      compression: 0,
      topicData: [
        {
          topic: 'outbox.event.order',
          partitions: [
            {
              partition: args.partition,
              firstSequence: args.firstSequence,
              messages: args.messages,
            },
          ],
        },
      ],
    });
    const general = (args: PartitionArgs) =>
      kafkajsProduce(request(args)).encode() as Promise<{ buffer: Buffer }>;
    const fast = (args: PartitionArgs) =>
      produceRequest(request(args)).encode() as Promise<{ buffer: Buffer }>;

    async function bothWays(args: PartitionArgs): Promise<[Buffer, Buffer]> {
      return [(await fast(args)).buffer, (await general(args)).buffer];
    }

    const frame = frameRequest(KafkajsEncoder);

    it("writes the same bytes as kafkajs' general record batch encoder", async () => {
      jest.spyOn(Date, 'now').mockReturnValue(1_760_000_050_000);
      try {
        for (const size of [1, 2, 17, 128, 1000]) {
          for (const transactionalId of [null, 'tx']) {
            const messages = Array.from({ length: size }, (_, i) => randomMessage(i + size));
            const [quick, slow] = await bothWays({
              partition: size % 7,
              messages,
              transactionalId,
              firstSequence: size * 3,
              producerId: Long.fromValue(987_654_321_012),
              producerEpoch: 5,
            });
            expect(quick.length).toBe(slow.length);
            expect(quick.equals(slow)).toBe(true);
          }
        }
      } finally {
        jest.restoreAllMocks();
      }
    });

    it('writes the same bytes for records with many headers and multi-valued headers', async () => {
      jest.spyOn(Date, 'now').mockReturnValue(1_760_000_050_000);
      try {
        for (const size of [1, 3, 50]) {
          const messages = Array.from({ length: size }, (_, i) => {
            const headers: Record<string, unknown> = {};
            for (let h = 0; h < 12; h++) headers[`header-${h}`] = text((i + h) % 30);
            headers.many = Array.from({ length: 9 }, (__, v) =>
              v % 2 === 0 ? text(v) : Buffer.from([v]),
            );
            headers.none = [];
            return { key: `agg-${i}`, value: text(i + 20), headers, timestamp: '1760000000000' };
          });
          const [quick, slow] = await bothWays({
            partition: 1,
            messages,
            transactionalId: null,
            firstSequence: 0,
            producerId: Long.fromValue(1),
            producerEpoch: 0,
          });
          expect(quick.equals(slow)).toBe(true);
        }
      } finally {
        jest.restoreAllMocks();
      }
    });

    it("frames requests as kafkajs does, writing a Produce request's batches in place", async () => {
      jest.spyOn(Date, 'now').mockReturnValue(1_760_000_050_000);
      try {
        const args = (size: number): PartitionArgs => ({
          partition: 3,
          messages: Array.from({ length: size }, (_, i) => randomMessage(i)),
          transactionalId: size % 2 === 0 ? 'tx-\u00fc' : null,
          firstSequence: 0,
          producerId: Long.fromValue(42),
          producerEpoch: 1,
        });
        // A Metadata request (no plan: its body is copied) and Produce requests of several sizes,
        // one of them with input the single-pass encoder leaves to kafkajs.
        const metadata = metadataRequest({ topics: ['outbox.event.order'] });
        const requests = [
          metadata,
          ...[1, 2, 300].map((size) => produceRequest(request(args(size)))),
          produceRequest(
            request({
              ...args(2),
              messages: [{ key: 'k', value: 'v', timestamp: '9'.repeat(16) }],
            }),
          ),
        ];
        for (const [i, req] of requests.entries()) {
          for (const clientId of ['outbox-relay', 'r\u00e9lay', null]) {
            const ours = await frame({
              correlationId: 7 + i,
              clientId,
              request: req as Parameters<typeof frame>[0]['request'],
            });
            const theirs = await kafkajsFrame({ correlationId: 7 + i, clientId, request: req });
            expect(ours.buffer.equals(theirs.buffer)).toBe(true);
            expect(ours.buffer.readInt32BE(0)).toBe(ours.buffer.length - 4);
          }
        }
      } finally {
        jest.restoreAllMocks();
      }
    });

    it('leaves what it does not handle to the general encoder, with the same outcome', async () => {
      const args = (message: Record<string, unknown>): PartitionArgs => ({
        partition: 0,
        messages: [{ key: 'k', value: 'v', timestamp: '1760000000000' }, message],
        transactionalId: null,
        firstSequence: 0,
        producerId: Long.fromValue(-1),
        producerEpoch: 0,
      });
      // A timestamp delta beyond 2^51 is written by the general encoder, as before.
      const [quick, slow] = await bothWays(
        args({ key: 'k', value: 'v', timestamp: '9999999999999999' }),
      );
      expect(quick.equals(slow)).toBe(true);
      // Input kafkajs rejects (a timestamp that is no number, a null header value) is still
      // rejected, with kafkajs' own error.
      for (const junk of [
        { key: 'k', value: 'v', timestamp: 'soon' },
        { key: 'k', value: 'v', headers: { h: null } },
      ]) {
        const error = await general(args(junk)).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(error).toBeDefined();
        await expect(fast(args(junk))).rejects.toThrow(error!.message);
      }
    });
  });

  it('groups a batch by partition keeping each partition in send order', () => {
    const messages = Array.from({ length: 5000 }, (_, i) => ({
      key: `agg-${i % 97}`,
      value: String(i),
    }));
    const partitioner = partitionerWith();
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: metadata(6),
      messages,
      partitioner: partitioner as (args: unknown) => number,
    }) as Record<string, Array<{ key: string; value: string }>>;
    const flat = Object.values(grouped).flat();
    expect(flat).toHaveLength(messages.length);
    for (const [partition, list] of Object.entries(grouped)) {
      const order = list.map((m) => Number(m.value));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      for (const m of list) {
        expect(
          String(partitioner({ topic: 't', partitionMetadata: metadata(6), message: m })),
        ).toBe(partition);
      }
    }
  });
});
