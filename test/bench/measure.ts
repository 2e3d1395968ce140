import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Client } from 'pg';
import { CompressionTypes, Partitioners, type Message } from 'kafkajs';
import { run } from '../harness/exec';
import { ensureKafkaToolsJars } from '../harness/kafka-jars';
import { findPgBinDir } from '../harness/prerequisites';
import { kafkaClient } from '../helpers/kafka';
import pino from 'pino';
import { parseLsn } from '../../src/replication/lsn';
import { ReplicationStream } from '../../src/replication/replication-stream';
import { readKeepalive, walStartOf, XLOG_DATA } from '../../src/replication/protocol';
import type { ConsumerWorkerData, ConsumerWorkerMessage } from './consumer-worker';
import { createTopic, topicRecords } from './workload';

/** Seconds since the epoch, with sub-millisecond resolution, on a clock worker threads share. */
export const now = (): number => (performance.timeOrigin + performance.now()) / 1000;

/**
 * A second decode ceiling: the relay's own replication connection reading the slot to `endLsn`
 * and decoding nothing (no pgoutput parsing, no records), answering the server only when it asks,
 * as pg_recvlogical does. pg_recvlogical writes every message to its output file with two system
 * calls, which on single-row transactions made it slower than the relay; this reader measures
 * what the walsender can send and Node can take in, from its first message to the end (as the
 * relay's figure runs from its first record on the topic to its last). Returns seconds.
 *
 * With `bursts`, the reader stops reading for `pauseMs` every `everyMs`. A reader that takes each
 * message as it arrives keeps the walsender's socket empty, so the walsender sends every message
 * (three per one-row transaction) with a system call of its own; a busy reader (the relay) lets
 * messages pile up and take one call for many. Measured side by side on one WAL: 31k events/s
 * reading continuously, 45-55k/s reading in bursts; the relay itself 50k/s. The read ceiling is
 * the faster of the two.
 */
export async function bareReaderSeconds(
  databaseUrl: string,
  slot: string,
  publication: string,
  endLsn: string,
  bursts?: { pauseMs: number; everyMs: number },
): Promise<number> {
  const end = parseLsn(endLsn);
  // From the first message on, as the relay's figure counts from its first record on the topic.
  let started = NaN;
  let stream: ReplicationStream | undefined;
  let position = 0n;
  let finish: (() => void) | undefined;
  const reached = new Promise<void>((resolve) => (finish = resolve));
  stream = await ReplicationStream.start(
    // Reading as it arrives (the relay rests between reads, READ_INTERVAL_MS): the continuous
    // reader and the reader in bursts measure the same as before the relay rested.
    { databaseUrl, slotName: slot, publicationName: publication, readIntervalMs: 0 },
    {
      attach: (s) => (stream = s),
      handle: (bytes, start, stop) => {
        if (bytes[start] === XLOG_DATA) {
          if (Number.isNaN(started)) started = now();
          const walStart = walStartOf(bytes, start);
          if (walStart > position) position = walStart;
          if (position >= end) finish?.();
        } else {
          const keepalive = readKeepalive(bytes, start, stop);
          if (keepalive.walEnd >= end) finish?.();
          if (keepalive.replyRequested) stream?.sendStatus(position);
        }
      },
    },
    pino({ level: 'silent' }),
  );
  const timer = setTimeout(() => finish?.(), 10 * 60_000);
  const pauses =
    bursts === undefined
      ? undefined
      : setInterval(() => {
          stream?.pause();
          setTimeout(() => stream?.resume(), bursts.pauseMs);
        }, bursts.everyMs);
  await Promise.race([reached, stream.finished]);
  clearTimeout(timer);
  clearInterval(pauses);
  const seconds = now() - started;
  await stream.close();
  return seconds;
}

/**
 * The decode ceiling: pg_recvlogical streaming the slot with pgoutput (same publication) to
 * /dev/null until the WAL position after the workload. Returns seconds.
 */
export async function recvlogicalSeconds(
  pgPort: number,
  slot: string,
  publication: string,
  endLsn: string,
): Promise<number> {
  const started = now();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      join(findPgBinDir(), 'pg_recvlogical'),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(pgPort),
        '-U',
        'postgres',
        '-d',
        'postgres',
        '--slot',
        slot,
        '--start',
        `--endpos=${endLsn}`,
        '--no-loop',
        '-o',
        'proto_version=1',
        '-o',
        `publication_names=${publication}`,
        '-f',
        '/dev/null',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
    child.once('error', reject);
    child.once('exit', (c) => {
      clearTimeout(timer);
      if (c !== 0) reject(new Error(`pg_recvlogical exited ${c}: ${stderr}`));
      else resolve(c);
    });
  });
  void code;
  return now() - started;
}

/** A payload like the workload's (~300 bytes of JSON). */
export function benchPayload(seq: number): string {
  return JSON.stringify({ name: `member-${seq}`, pad: 'x'.repeat(232), seq });
}

/**
 * The produce ceiling: a bare kafkajs producer with the relay's settings (idempotent, acks=all,
 * one request in flight, batches of up to `batchEvents` / 900 kB) sending the same records.
 * Returns seconds.
 */
export async function produceSeconds(
  brokers: string,
  topic: string,
  events: number,
  aggregates: number,
  batchEvents = 5_000,
): Promise<number> {
  const kafka = kafkaClient([brokers]);
  await createTopic(brokers, topic);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const started = now();
  let batch: Message[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.sendBatch({
      topicMessages: [{ topic, messages: batch }],
      acks: -1,
      compression: CompressionTypes.None,
    });
    batch = [];
    bytes = 0;
  };
  for (let i = 0; i < events; i++) {
    const value = benchPayload(i);
    batch.push({
      key: `agg-${i % aggregates}`,
      value,
      headers: { id: randomUUID(), type: 'BenchEvent', aggregateType: 'bench' },
      timestamp: String(Date.now()),
    });
    bytes += value.length + 80;
    if (batch.length >= batchEvents || bytes >= 900_000) await flush();
  }
  await flush();
  const seconds = now() - started;
  await producer.disconnect();
  return seconds;
}

/**
 * Polls a topic's record count until it reaches `events`: when the first and the last record
 * were seen. Bounded by `timeoutMs`.
 */
export async function watchTopic(
  brokers: string,
  topic: string,
  events: number,
  timeoutMs: number,
  alive: () => boolean,
): Promise<{ first: number; last: number; count: number; slowestCountS: number }> {
  const deadline = Date.now() + timeoutMs;
  let first = NaN;
  let count = 0;
  let slowestCountS = 0;
  while (Date.now() < deadline && alive()) {
    const asked = now();
    // A topic just created may not have leaders yet: count it as it was and look again.
    count = await topicRecords(brokers, topic).catch(() => count);
    slowestCountS = Math.max(slowestCountS, now() - asked);
    if (count > 0 && Number.isNaN(first)) first = now();
    if (count >= events) return { first, last: now(), count, slowestCountS };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${topic}: ${count} of ${events} records ${alive() ? `after ${timeoutMs} ms` : 'when the writer exited'}`,
  );
}

export interface LatencyResult {
  rate: number;
  /** The rate the writers achieved (below `rate` when the machine could not keep up). */
  achievedRate?: number;
  sent: number;
  received: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** With `timeline`: the worst latency (ms) of the events committed in each second of the run. */
  worstMsBySecond?: number[];
  /**
   * With `timeline`: when the window started (epoch seconds; after any warm-up); second 0 of
   * `worstMsBySecond`.
   */
  writersStartedAt?: number;
  /** With `splitAtSecond`: the figures of the events committed from that second on. */
  afterSplit?: LatencyResult;
}

/**
 * The `seq` of a benchmark payload: the relay's value is the payload itself; Debezium's JSON
 * converter writes the jsonb column as a JSON string holding it.
 */
export function payloadSeq(value: Buffer | null): number | undefined {
  if (value === null) return undefined;
  try {
    let parsed: unknown = JSON.parse(value.toString('utf8'));
    if (typeof parsed === 'string') parsed = JSON.parse(parsed);
    const seq = (parsed as { seq?: unknown } | null)?.seq;
    return typeof seq === 'number' ? seq : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An independent kafkajs consumer (fresh group, from the beginning of a fresh topic, in a worker
 * thread: consumer-worker.ts) noting when each payload `seq` >= `seqBase` arrives. Resolves once
 * it has joined its group.
 */
async function seqConsumer(brokers: string, topic: string, seqBase: number) {
  const arrived = new Map<number, number>();
  const worker = new Worker(join(__dirname, 'consumer-worker.js'), {
    workerData: { brokers, topic, seqBase } satisfies ConsumerWorkerData,
  });
  let joined = false;
  let stopped = false;
  worker.on('message', (message: ConsumerWorkerMessage) => {
    if (message.type === 'joined') joined = true;
    else if (message.type === 'stopped') stopped = true;
    else for (const [seq, at] of message.arrivals) if (!arrived.has(seq)) arrived.set(seq, at);
  });
  let failure: Error | undefined;
  worker.once('error', (err) => (failure = err));
  const deadline = Date.now() + 60_000;
  while (!joined) {
    if (failure !== undefined || Date.now() > deadline) {
      await worker.terminate();
      throw failure ?? new Error(`the measuring consumer did not join within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
  const stop = async () => {
    worker.postMessage('stop');
    const until = Date.now() + 15_000;
    while (!stopped && failure === undefined && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    await worker.terminate();
  };
  return { arrived, stop };
}

/**
 * The measuring consumer's own share: a bare kafkajs producer sends the same payloads at `rate`
 * (acks=all, one at a time) and the same kind of consumer notes their arrival; latency = arrival
 * - acknowledgement. What the relay's figures cannot go below with this consumer.
 */
export async function measureConsumerFloor(options: {
  brokers: string;
  topic: string;
  rate: number;
  seconds: number;
}): Promise<LatencyResult> {
  const kafka = kafkaClient([options.brokers]);
  await createTopic(options.brokers, options.topic);
  const consumer = await seqConsumer(options.brokers, options.topic, 0);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acked = new Map<number, number>();
  const total = Math.round(options.rate * options.seconds);
  const started = now();
  for (let i = 0; i < total; i++) {
    const wait = started + i / options.rate - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait * 1000));
    await producer.send({
      topic: options.topic,
      acks: -1,
      messages: [{ key: `agg-${i % 1000}`, value: benchPayload(i) }],
    });
    acked.set(i, now());
  }
  await producer.disconnect();
  const deadline = Date.now() + 30_000;
  while (consumer.arrived.size < acked.size && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  await consumer.stop();
  return latencyResult(options.rate, acked, consumer.arrived);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * End-to-end latency at a fixed write rate: single-row transactions from `connections` writers
 * paced to `rate` events/s for `seconds`; an independent consumer (subscribed before the first
 * write) notes when each event id arrives. Latency = arrival - the moment COMMIT returned.
 */
export async function measureLatency(options: {
  url: string;
  table: string;
  brokers: string;
  topic: string;
  rate: number;
  seconds: number;
  /** First payload seq: runs on one topic must not overlap. */
  seqBase: number;
  connections?: number;
  timeline?: boolean;
  /** Called when the writers start (after the consumer joined). */
  onWriting?: () => void;
  /** Also report the events committed this many seconds or more after the window started. */
  splitAtSecond?: number;
  /**
   * Seconds of writing at the same rate before the window, through the same consumer and writer
   * connections (their JIT, connections and fetch sessions warm when the window starts); the
   * events committed then are not counted.
   */
  warmUpSeconds?: number;
  /** Called when the window starts (after the warm-up). */
  onWindow?: () => void;
}): Promise<LatencyResult> {
  const { rate, seconds } = options;
  const warmUpSeconds = options.warmUpSeconds ?? 0;
  const connections = options.connections ?? 4;
  const committed = new Map<number, number>();
  const consumer = await seqConsumer(options.brokers, options.topic, options.seqBase);
  const { arrived } = consumer;
  const warmUpEvents = Math.round(rate * warmUpSeconds);
  const total = warmUpEvents + Math.round(rate * seconds);
  const started = now();
  const windowStart = started + warmUpSeconds;
  options.onWriting?.();
  const windowTimer = setTimeout(() => options.onWindow?.(), warmUpSeconds * 1000);
  const writers = Array.from({ length: connections }, async (_, w) => {
    const sql = new Client({ connectionString: options.url });
    await sql.connect();
    try {
      for (let n = w; n < total; n += connections) {
        const i = options.seqBase + n;
        const due = started + n / rate;
        const wait = due - now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait * 1000));
        // A named statement: parsed and planned once, so the writers cost the shared CPU less.
        await sql.query({
          name: 'bench_insert',
          text: `insert into ${options.table} (id, aggregatetype, aggregateid, type, payload) values ($1, 'bench', $2, 'BenchEvent', $3)`,
          values: [randomUUID(), `agg-${i % 1000}`, benchPayload(i)],
        });
        if (n >= warmUpEvents) committed.set(i, now());
      }
    } finally {
      await sql.end();
    }
  });
  await Promise.all(writers);
  clearTimeout(windowTimer);
  const writeSeconds = now() - windowStart;
  const deadline = Date.now() + 30_000;
  const missing = () => {
    let count = 0;
    for (const id of committed.keys()) if (!arrived.has(id)) count++;
    return count;
  };
  while (missing() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await consumer.stop();
  const result: LatencyResult = {
    ...latencyResult(rate, committed, arrived),
    achievedRate: (total - warmUpEvents) / writeSeconds,
  };
  if (options.splitAtSecond !== undefined) {
    const from = windowStart + options.splitAtSecond;
    const later = new Map([...committed].filter(([, at]) => at >= from));
    result.afterSplit = latencyResult(rate, later, arrived);
  }
  if (options.timeline === true) {
    const worst: number[] = [];
    for (const [id, at] of committed) {
      const second = Math.floor(at - windowStart);
      const latency = arrived.has(id) ? (arrived.get(id)! - at) * 1000 : Infinity;
      worst[second] = Math.max(worst[second] ?? 0, Math.round(latency));
    }
    result.worstMsBySecond = Array.from(worst, (w) => w ?? 0);
    result.writersStartedAt = windowStart;
  }
  return result;
}

function latencyResult(
  rate: number,
  committed: Map<number, number>,
  arrived: Map<number, number>,
): LatencyResult {
  const latencies = [...committed]
    .filter(([id]) => arrived.has(id))
    .map(([id, at]) => (arrived.get(id)! - at) * 1000)
    .sort((a, b) => a - b);
  return {
    rate,
    sent: committed.size,
    received: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
  };
}

/**
 * For reference: the broker distribution's kafka-producer-perf-test (ProducerPerformance, the
 * Java client with its defaults: acks=all, idempotent, up to 5 requests in flight, lingering
 * batches) sending `events` records of 300 random bytes, unkeyed. Returns events/s as it reports.
 */
export async function javaProducerEventsPerSecond(
  brokers: string,
  topic: string,
  events: number,
): Promise<number> {
  const libs = await ensureKafkaToolsJars();
  await createTopic(brokers, topic);
  const result = await run(
    'java',
    [
      '-Xmx512m',
      '-cp',
      join(libs, '*'),
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(events),
      '--record-size',
      '300',
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${brokers}`,
      'acks=all',
    ],
    { timeoutMs: 10 * 60_000 },
  );
  const summaries = [...result.stdout.matchAll(/(\d+) records sent, ([\d.]+) records\/sec/g)];
  const last = summaries[summaries.length - 1];
  if (result.code !== 0 || last === undefined) {
    throw new Error(
      `kafka-producer-perf-test failed (exit ${result.code}):\n${result.stderr.slice(-2000)}`,
    );
  }
  return Number(last[2]);
}
