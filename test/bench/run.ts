/**
 * `npm run bench [-- --quick] [-- --no-debezium] [-- --no-registry] [-- --txn-sizes 1,10]
 * [-- --throughput-only] [-- --latency-only]`: outbox-relay against the
 * decode ceiling (pg_recvlogical), the produce ceiling (a bare kafkajs producer) and Debezium
 * Server, on the same WAL and the same broker, one after another; on 10-row transactions (the
 * first workload with --quick) also with Avro through a schema registry. Prints a table, writes
 * test/bench/results/{latest.json,latest.md,chart.svg}. Not part of `npm test`.
 */
// First: the produce ceiling runs kafkajs with the relay's produce path, as the relay does.
import '../../src/kafka/fast-path/install';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { KafkaServer } from '../harness/kafka';
import { KAFKA_VERSION } from '../harness/kafka-jars';
import { PostgresServer } from '../harness/postgres';
import { RegistryServer } from '../harness/registry';
import { RelayProcess } from '../helpers/relay-process';
import { waitFor } from '../helpers/wait-for';
import {
  exactlyOnceEnv,
  flowPausedShare,
  relayCatchUp,
  relayEnvFor,
  type CatchUp,
} from './relay-run';
import { DEBEZIUM_VERSION, DebeziumServer, ensureDebezium } from './debezium';
import {
  bareReaderSeconds,
  javaProducerEventsPerSecond,
  measureConsumerFloor,
  measureLatency,
  produceSeconds,
  recvlogicalSeconds,
  watchTopic,
} from './measure';
import { chart, markdown, type BenchResults, type LatencyRow, type ThroughputRow } from './report';
import { createBenchTable, createTopic, dropBenchTable, fill, walsenderPid } from './workload';
import { catchUpCpu, CpuWindow, describeCpu, type CatchUpCpu } from './cpu';
import { brokerGcPausesSince, gcLogOffset } from './broker-gc';
import { warmUpBroker } from './broker-warm-up';

const FULL = {
  events: 200_000,
  txnSizes: [1, 10, 100],
  aggregates: 10_000,
  rates: [1_000, 5_000],
  latencySeconds: 30,
  bigTransactionRows: 1_000_000,
};
const QUICK = {
  events: 20_000,
  txnSizes: [1, 100],
  aggregates: 2_000,
  rates: [1_000],
  latencySeconds: 8,
  bigTransactionRows: 100_000,
};
const TIMEOUT_MS = 10 * 60_000;

/** Cumulative counts of one of the relay's histograms, by bucket bound (seconds). */
function latencyBuckets(
  metrics: Map<string, number>,
  histogram = 'outbox_relay_event_latency_seconds',
): Map<number, number> {
  const buckets = new Map<number, number>();
  const pattern = new RegExp(`^${histogram}_bucket\\{le="([^"]+)"\\}$`);
  for (const [name, value] of metrics) {
    const match = pattern.exec(name);
    if (match !== null) buckets.set(match[1] === '+Inf' ? Infinity : Number(match[1]), value);
  }
  return buckets;
}

/** Total GC pause time (s) and pauses so far, over every GC kind. */
function gcTotals(metrics: Map<string, number>): { seconds: number; pauses: number } {
  let seconds = 0;
  let pauses = 0;
  for (const [name, value] of metrics) {
    if (name.startsWith('outbox_relay_nodejs_gc_duration_seconds_sum')) seconds += value;
    if (name.startsWith('outbox_relay_nodejs_gc_duration_seconds_count')) pauses += value;
  }
  return { seconds, pauses };
}

/** The bucket bound (ms) under which `p`% of the events between two scrapes fell. */
function bucketPercentile(
  before: Map<number, number>,
  after: Map<number, number>,
  p: number,
): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const bound of bounds) {
    if ((after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= (p / 100) * total)
      return bound * 1000;
  }
  return NaN;
}

const say = (text: string) => process.stdout.write(`[bench] ${text}\n`);

const cpuText = (cpu: CatchUpCpu | undefined) =>
  cpu === undefined
    ? 'CPU not measured'
    : `CPU per event ${cpu.systemUs.toFixed(1)} us (walsender ${cpu.walsenderUs.toFixed(1)}, broker ${cpu.kafkaUs.toFixed(1)}; machine ${(100 * cpu.machineBusy).toFixed(0)}% busy)`;

const flowText = (run: CatchUp) =>
  `reading paused by flow control ${(100 * flowPausedShare(run)).toFixed(0)}% of the catch-up (${run.flowPaused.pauses} pauses)`;

async function waitForSlotActive(url: string, slot: string, alive: () => boolean): Promise<void> {
  await waitFor(
    async () => {
      if (!alive()) throw new Error(`the reader of ${slot} exited`);
      return (await walsenderPid(url, slot)) !== undefined;
    },
    { timeoutMs: 120_000, description: `slot ${slot} to be streamed` },
  );
}

/** Writes the Markdown table, JSON and chart of `results` into test/bench/results/. */
function writeResults(results: BenchResults): void {
  const dir = join(__dirname, '..', '..', '..', 'test', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const suffix = results.quick ? '-quick' : '';
  writeFileSync(join(dir, `latest${suffix}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, `latest${suffix}.md`), markdown(results));
  writeFileSync(join(dir, `chart${suffix}.svg`), chart(results));
  process.stdout.write(
    `\n${markdown(results)}\nwritten: test/bench/results/latest${suffix}.{json,md}, chart${suffix}.svg\n`,
  );
}

async function main(): Promise<void> {
  const render = process.argv.indexOf('--render');
  if (render >= 0) {
    // Re-renders table and chart from a results file (after changing the report's format).
    const file = process.argv[render + 1];
    if (file === undefined) throw new Error('--render needs a results JSON file');
    writeResults(JSON.parse(readFileSync(file, 'utf8')) as BenchResults);
    return;
  }
  const quick = process.argv.includes('--quick');
  const withDebezium = !process.argv.includes('--no-debezium');
  const sizes = process.argv.indexOf('--txn-sizes');
  const throughputOnly = process.argv.includes('--throughput-only');
  const latencyOnly = process.argv.includes('--latency-only');
  const plan = {
    ...(quick ? QUICK : FULL),
    ...(sizes >= 0 ? { txnSizes: (process.argv[sizes + 1] ?? '').split(',').map(Number) } : {}),
    ...(latencyOnly ? { txnSizes: [] } : {}),
  };
  if (plan.txnSizes.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error('--txn-sizes takes whole numbers, e.g. 1,10,100');
  // A partial run prints its figures but keeps the results files of the last full one.
  const partial = sizes >= 0 || throughputOnly || latencyOnly;
  const command = `npm run bench${quick ? ' -- --quick' : ''}`;
  say(
    `${quick ? 'quick' : 'full'} run: ${plan.events.toLocaleString('en-US')} events per workload`,
  );
  const dbzHome = withDebezium ? await ensureDebezium() : undefined;
  // Checkpoints and autovacuum runs are logged, so a latency spike can be set beside them.
  const [pg, kafka] = await Promise.all([
    PostgresServer.start({
      settings: { log_checkpoints: 'on', log_autovacuum_min_duration: 0 },
    }),
    KafkaServer.start(),
  ]);
  const withRegistry = !process.argv.includes('--no-registry');
  /** The workload the Avro + registry run joins: 10-row transactions, else the first. */
  const avroTxnSize = plan.txnSizes.includes(10) ? 10 : plan.txnSizes[0];
  const throughput: ThroughputRow[] = [];
  const latency: LatencyRow[] = [];
  let bigTransaction: BenchResults['bigTransaction'] = {
    rows: plan.bigTransactionRows,
    relayRssBytes: NaN,
    relaySeconds: NaN,
  };
  try {
    // The broker's JVM compiles its request paths under the first load it gets, and the first system
    // measured would pay for that (broker-warm-up.ts has the figures). Warm it up first, unmeasured.
    say(
      `broker warmed up: ${await warmUpBroker(kafka.brokers, 2 * plan.events, plan.aggregates)} (not a figure)`,
    );
    for (const perTxn of plan.txnSizes) {
      const name = `bench_${perTxn}_${Date.now() % 100_000}`;
      const avro = withRegistry && perTxn === avroTxnSize;
      const readers = [
        'relay',
        'recv',
        'eos',
        'bare',
        'burst',
        ...(dbzHome === undefined ? [] : ['dbz']),
        ...(avro ? ['avro'] : []),
      ];
      const bench = await createBenchTable(pg.url, name, readers);
      const [relaySlot, recvSlot, eosSlot, bareSlot, burstSlot] = bench.slots as [
        string,
        string,
        string,
        string,
        string,
      ];
      const dbzSlot = dbzHome === undefined ? undefined : bench.slots[5];
      const avroSlot = avro ? bench.slots[bench.slots.length - 1] : undefined;
      say(`${perTxn}-row transactions: writing ${plan.events} events ...`);
      const endLsn = await fill(pg.url, name, plan.events, perTxn, plan.aggregates);

      const decodeS = await recvlogicalSeconds(pg.port, recvSlot, bench.publication, endLsn);
      say(`  decode ceiling: ${(plan.events / decodeS).toFixed(0)} events/s`);
      const bareS = await bareReaderSeconds(pg.url, bareSlot, bench.publication, endLsn);
      say(`  read ceiling (bare reader): ${(plan.events / bareS).toFixed(0)} events/s`);
      const burstS = await bareReaderSeconds(pg.url, burstSlot, bench.publication, endLsn, {
        pauseMs: 1,
        everyMs: 2,
      });
      say(
        `  read ceiling (bare reader, reading in bursts): ${(plan.events / burstS).toFixed(0)} events/s`,
      );

      const catchUp = await relayCatchUp({
        pg,
        kafka,
        table: name,
        slot: relaySlot,
        endLsn,
        timeoutMs: TIMEOUT_MS,
        topic: { name: bench.topic, events: plan.events },
      });
      const seen = catchUp;
      const { streamingAt, confirmedAt, peakRssBytes: relayRssBytes } = catchUp;
      const relayEps = plan.events / (seen.last - seen.first);
      say(
        `  outbox-relay: ${relayEps.toFixed(0)} events/s (confirmed: ${(plan.events / (confirmedAt - streamingAt)).toFixed(0)}/s), peak RSS ${(relayRssBytes / 2 ** 20).toFixed(0)} MiB, ${cpuText(catchUp.cpu)}; ${flowText(catchUp)}`,
      );

      // Right after the JSON run, on the same WAL: the closest comparison the machine allows.
      let avroEps: number | undefined;
      let avroRss: number | undefined;
      if (avroSlot !== undefined) {
        // Started for this run only: its JVM's start-up must not share the CPU with the others.
        const registry = await RegistryServer.start();
        try {
          const run = await relayCatchUp({
            pg,
            kafka,
            table: name,
            slot: avroSlot,
            endLsn,
            timeoutMs: TIMEOUT_MS,
            topic: { name: `${name}_avro.bench`, events: plan.events },
            env: {
              TOPIC_TEMPLATE: `${name}_avro.{aggregateType}`,
              VALUE_FORMAT: 'avro',
              AVRO_SCHEMA_DIR: join(__dirname, '..', '..', '..', 'test', 'bench', 'schemas'),
              SCHEMA_REGISTRY_URL: registry.url,
            },
          });
          avroEps = plan.events / (run.last - run.first);
          avroRss = run.peakRssBytes;
          say(
            `  outbox-relay, Avro + schema registry: ${avroEps.toFixed(0)} events/s (${((100 * avroEps) / relayEps).toFixed(0)}% of JSON), peak RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
          );
        } finally {
          await registry.destroy();
        }
      }
      // Exactly-once on the same WAL, its own topic, read back with read_committed.
      const eos = await relayCatchUp({
        pg,
        kafka,
        table: name,
        slot: eosSlot,
        endLsn,
        timeoutMs: TIMEOUT_MS,
        topic: { name: `${name}_eos.bench`, events: plan.events },
        env: exactlyOnceEnv(name),
      });
      const eosEps = plan.events / (eos.last - eos.first);
      say(
        `  outbox-relay exactly-once: ${eosEps.toFixed(0)} events/s (${((100 * eosEps) / relayEps).toFixed(0)}% of at-least-once; confirmed: ${(plan.events / (eos.confirmedAt - eos.streamingAt)).toFixed(0)}/s), peak RSS ${(eos.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${cpuText(eos.cpu)}; ${flowText(eos)}`,
      );

      const produceS = await produceSeconds(
        kafka.brokers,
        `${name}_raw`,
        plan.events,
        plan.aggregates,
      );
      say(`  produce ceiling: ${(plan.events / produceS).toFixed(0)} events/s`);

      const javaEps = await javaProducerEventsPerSecond(kafka.brokers, `${name}_java`, plan.events);
      say(`  kafka-producer-perf-test (reference): ${javaEps.toFixed(0)} events/s`);

      const row: ThroughputRow = {
        javaProducer: javaEps,
        workload: `${perTxn}-row txns`,
        rowsPerTxn: perTxn,
        events: plan.events,
        decode: plan.events / decodeS,
        bareReader: plan.events / bareS,
        burstReader: plan.events / burstS,
        produce: plan.events / produceS,
        relay: relayEps,
        relayConfirmed: plan.events / (confirmedAt - streamingAt),
        relayRssBytes,
        relayExactlyOnce: eosEps,
        relayExactlyOnceConfirmed: plan.events / (eos.confirmedAt - eos.streamingAt),
        relayExactlyOnceRssBytes: eos.peakRssBytes,
        relayCpu: catchUp.cpu,
        walsenderBound: 1e6 / catchUp.cpu.walsenderUs,
        relayFlowPausedShare: flowPausedShare(catchUp),
        relayExactlyOnceFlowPausedShare: flowPausedShare(eos),
        relayExactlyOnceCpu: eos.cpu,
        ...(avroEps === undefined
          ? {}
          : { relayAvroRegistry: avroEps, relayAvroRegistryRssBytes: avroRss }),
      };
      if (dbzHome !== undefined && dbzSlot !== undefined) {
        const topic = `${name}_dbz.bench`;
        await createTopic(kafka.brokers, topic);
        const dbz = await DebeziumServer.start(dbzHome, {
          pgPort: pg.port,
          slot: dbzSlot,
          publication: bench.publication,
          table: name,
          topic,
          brokers: kafka.brokers,
        });
        try {
          // The topic is watched from the start (Debezium may stream before its slot is seen
          // active); its CPU from the moment a walsender serves it.
          const [dbzSeen, cpu] = await Promise.all([
            watchTopic(kafka.brokers, topic, plan.events, TIMEOUT_MS, () => dbz.running),
            waitForSlotActive(pg.url, dbzSlot, () => dbz.running).then(async () =>
              catchUpCpu({
                system: dbz.pid,
                walsender: await walsenderPid(pg.url, dbzSlot),
                kafka: kafka.pid,
              }),
            ),
          ]);
          row.debeziumCpu = cpu.stop(plan.events);
          row.debezium = plan.events / (dbzSeen.last - dbzSeen.first);
          row.debeziumRssBytes = dbz.peakRss();
          say(
            `  Debezium Server: ${row.debezium.toFixed(0)} events/s, peak RSS ${(row.debeziumRssBytes / 2 ** 20).toFixed(0)} MiB, ${cpuText(row.debeziumCpu)}`,
          );
          say(
            `  relay / Debezium: ${(row.relay / row.debezium).toFixed(2)}x; the walsender's bound (one core at the relay walsender's ${catchUp.cpu.walsenderUs.toFixed(1)} us per event): ${row.walsenderBound!.toFixed(0)} events/s = ${(row.walsenderBound! / row.debezium).toFixed(2)}x Debezium`,
          );
        } catch (err) {
          say(`  Debezium Server failed: ${(err as Error).message}\n${dbz.log.slice(-3000)}`);
          throw err;
        } finally {
          await dbz.stop();
        }
      }
      throughput.push(row);
      await dropBenchTable(pg.url, bench);
    }

    const systems: Array<LatencyRow['system']> = throughputOnly
      ? []
      : ['outbox-relay', 'outbox-relay exactly-once'];
    if (dbzHome !== undefined && !throughputOnly) systems.push('debezium');
    for (const system of systems) {
      const name = `bench_lat_${system === 'debezium' ? 'dbz' : system === 'outbox-relay' ? 'relay' : 'eos'}_${Date.now() % 100_000}`;
      const bench = await createBenchTable(pg.url, name, [system === 'debezium' ? 'dbz' : 'relay']);
      const topic = system === 'debezium' ? `${name}_dbz.bench` : bench.topic;
      await createTopic(kafka.brokers, topic);
      const slot = bench.slots[0]!;
      let rss: () => number;
      let stop: () => Promise<unknown>;
      let scrape: (() => Promise<Map<string, number>>) | undefined;
      let readerPid: number | undefined;
      if (system === 'debezium') {
        const dbz = await DebeziumServer.start(dbzHome!, {
          pgPort: pg.port,
          slot,
          publication: bench.publication,
          table: name,
          topic,
          brokers: kafka.brokers,
        });
        rss = () => dbz.peakRss();
        readerPid = dbz.pid;
        stop = () => dbz.stop();
        await waitForSlotActive(pg.url, slot, () => dbz.running);
      } else {
        const relay = new RelayProcess({
          ...relayEnvFor(pg, kafka, name, slot),
          ...(system === 'outbox-relay exactly-once'
            ? { ...exactlyOnceEnv(name), TOPIC_TEMPLATE: `${name}.{aggregateType}` }
            : {}),
        });
        rss = () => relay.peakRss();
        readerPid = relay.pid;
        stop = () => relay.stop();
        scrape = () => relay.metrics();
        await relay.waitUntilStreaming(120_000);
      }
      try {
        let seqBase = 0;
        for (const rate of plan.rates) {
          // The relay's metrics around the window (its event-loop figures cover the time since
          // the previous scrape, so the second scrape covers the window), where the machine's CPU
          // goes during it (the reader, the walsender serving it, the broker, and this process:
          // the writers' client side and the consumer), and the database's and broker's logs
          // from its start. Taken when the warm-up ends.
          const walsender = await walsenderPid(pg.url, slot);
          let scrapeBefore: Promise<Map<string, number>> | undefined;
          let cpu: CpuWindow | undefined;
          let logFrom = 0;
          let gcFrom = 0;
          let windowStart = '';
          // 2 s of warm-up (JIT, connections, metadata) at the same rate, through the same
          // consumer and writer connections as the window; not counted.
          const result = await measureLatency({
            url: pg.url,
            table: name,
            brokers: kafka.brokers,
            topic,
            rate,
            seconds: plan.latencySeconds,
            warmUpSeconds: 2,
            seqBase,
            timeline: true,
            onWindow: () => {
              scrapeBefore = scrape?.();
              // Awaited after the window; a failure then fails the run, not the process now.
              scrapeBefore?.catch(() => undefined);
              cpu = new CpuWindow({
                reader: readerPid,
                walsender,
                kafka: kafka.pid,
                bench: process.pid,
              });
              logFrom = statSync(pg.logFile).size;
              gcFrom = gcLogOffset(kafka.gcLogFile);
              windowStart = new Date().toISOString();
            },
          });
          if (cpu === undefined) throw new Error('the latency window never started');
          const { machineBusy, cores } = cpu.stop();
          const serverEvents = serverEventsSince(pg.logFile, logFrom);
          const gcPauses = brokerGcPausesSince(kafka.gcLogFile, gcFrom);
          seqBase += rate * (2 + plan.latencySeconds) + 1;
          const after = await scrape?.();
          const row: LatencyRow = {
            ...result,
            system,
            rssBytes: rss(),
            machineBusy,
            cpuCores: cores,
            serverEvents,
            brokerGc: {
              pauses: gcPauses.length,
              totalMs: gcPauses.reduce((sum, p) => sum + p.ms, 0),
              maxMs: Math.max(0, ...gcPauses.map((p) => p.ms)),
            },
          };
          const before = await scrapeBefore;
          if (before !== undefined && after !== undefined) {
            const [ackBefore, ackAfter] = [latencyBuckets(before), latencyBuckets(after)];
            row.ackP50Ms = bucketPercentile(ackBefore, ackAfter, 50);
            row.ackP99Ms = bucketPercentile(ackBefore, ackAfter, 99);
            const read = 'outbox_relay_read_latency_seconds';
            const [readBefore, readAfter] = [
              latencyBuckets(before, read),
              latencyBuckets(after, read),
            ];
            row.readP50Ms = bucketPercentile(readBefore, readAfter, 50);
            row.readP99Ms = bucketPercentile(readBefore, readAfter, 99);
            row.eventLoopDelayP99Ms =
              (after.get('outbox_relay_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000;
            row.eventLoopDelayMaxMs =
              (after.get('outbox_relay_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000;
            row.flowPausedMs =
              ((after.get('outbox_relay_flow_control_paused_seconds_total') ?? 0) -
                (before.get('outbox_relay_flow_control_paused_seconds_total') ?? 0)) *
              1000;
            const [gcBefore, gcAfter] = [gcTotals(before), gcTotals(after)];
            row.gcMs = (gcAfter.seconds - gcBefore.seconds) * 1000;
            row.gcPauses = gcAfter.pauses - gcBefore.pauses;
          }
          latency.push(row);
          say(
            `  ${system} @ ${rate}/s: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms (${result.received}/${result.sent}; writers achieved ${(result.achievedRate ?? NaN).toFixed(0)}/s)`,
          );
          say(
            `    CPU over the window: ${describeCpu({ machineBusy, cores })}; worst latency per second (ms): ${result.worstMsBySecond?.join(' ')}`,
          );
          const longPauses = gcPauses
            .filter((p) => p.ms >= 10)
            .map(
              (p) =>
                `${p.ms.toFixed(0)} ms in second ${Math.floor(p.at - (result.writersStartedAt ?? NaN))}`,
            );
          say(
            `    broker GC in the window: ${gcPauses.length} pauses, ${row.brokerGc!.totalMs.toFixed(0)} ms in all, longest ${row.brokerGc!.maxMs.toFixed(1)} ms${longPauses.length > 0 ? `; from 10 ms: ${longPauses.join(', ')}` : ''}`,
          );
          say(
            `    PostgreSQL in the window from ${windowStart} (checkpoints, autovacuum): ${serverEvents.length === 0 ? 'none' : serverEvents.join(' | ')}`,
          );
          if (row.readP99Ms !== undefined)
            say(
              `    breakdown: commit -> read by the relay p50/p99 <= ${row.readP50Ms} / ${row.readP99Ms} ms, commit -> acked p50/p99 <= ${row.ackP50Ms} / ${row.ackP99Ms} ms (histogram buckets), commit -> consumer p99 ${result.p99.toFixed(1)} ms; relay event-loop delay p99 ${row.eventLoopDelayP99Ms?.toFixed(1)} ms, max ${row.eventLoopDelayMaxMs?.toFixed(1)} ms; GC ${row.gcMs?.toFixed(0)} ms in ${row.gcPauses} pauses; reading paused by flow control ${row.flowPausedMs?.toFixed(0)} ms`,
            );
        }
      } finally {
        await stop();
      }
      await dropBenchTable(pg.url, bench);
    }

    for (const rate of throughputOnly ? [] : plan.rates) {
      const floor = await measureConsumerFloor({
        brokers: kafka.brokers,
        topic: `bench_floor_${rate}_${Date.now() % 100_000}`,
        rate,
        seconds: plan.latencySeconds,
      });
      latency.push({ ...floor, system: 'kafkajs floor', rssBytes: NaN });
      say(
        `  kafkajs produce->consume floor @ ${rate}/s: p50 ${floor.p50.toFixed(1)} ms, p99 ${floor.p99.toFixed(1)} ms`,
      );
    }

    if (!throughputOnly && !latencyOnly) {
      const name = `bench_big_${Date.now() % 100_000}`;
      const bench = await createBenchTable(pg.url, name, ['relay', 'eos']);
      say(`one transaction of ${plan.bigTransactionRows} rows ...`);
      const endLsn = await fill(
        pg.url,
        name,
        plan.bigTransactionRows,
        plan.bigTransactionRows,
        plan.aggregates,
      );
      const run = (slot: string, topic: string, env?: Record<string, string>) =>
        relayCatchUp({
          pg,
          kafka,
          table: name,
          slot,
          endLsn,
          timeoutMs: TIMEOUT_MS,
          env,
          // Every record must be on the topic before a time counts (offsets; exactly-once's
          // also hold its transaction markers).
          topic: { name: topic, events: plan.bigTransactionRows },
        });
      const catchUp = await run(bench.slots[0]!, `${name}.bench`);
      const eos = await run(bench.slots[1]!, `${name}_eos.bench`, exactlyOnceEnv(name));
      const done = (c: typeof catchUp) => Math.max(c.confirmedAt, c.last);
      bigTransaction = {
        rows: plan.bigTransactionRows,
        relayRssBytes: catchUp.peakRssBytes,
        relaySeconds: done(catchUp) - catchUp.streamingAt,
        relaySecondsFromStart: done(catchUp) - catchUp.startedAt,
        relayExactlyOnceRssBytes: eos.peakRssBytes,
        relayExactlyOnceSeconds: done(eos) - eos.streamingAt,
        relayExactlyOnceSecondsFromStart: done(eos) - eos.startedAt,
      };
      say(
        `  relay peak RSS ${(bigTransaction.relayRssBytes / 2 ** 20).toFixed(0)} MiB, ${bigTransaction.relaySeconds.toFixed(1)} s (${bigTransaction.relaySecondsFromStart!.toFixed(1)} s from process start); exactly-once ${(eos.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${bigTransaction.relayExactlyOnceSeconds!.toFixed(1)} s (${bigTransaction.relayExactlyOnceSecondsFromStart!.toFixed(1)} s from process start); all records on the topics`,
      );
      await dropBenchTable(pg.url, bench);
    }
  } finally {
    await Promise.allSettled([pg.destroy(), kafka.destroy()]);
  }

  const results: BenchResults = {
    date: new Date().toISOString().slice(0, 10),
    command,
    quick,
    machine: {
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    versions: {
      kafka: KAFKA_VERSION,
      postgresql: '15',
      ...(dbzHome === undefined ? {} : { debezium: DEBEZIUM_VERSION }),
    },
    throughput,
    latency,
    bigTransaction,
  };
  if (partial) {
    process.stdout.write(`\n${markdown(results)}\n(a partial run: results files not written)\n`);
    return;
  }
  writeResults(results);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});

/** Checkpoint and autovacuum lines PostgreSQL logged after byte `from` of its log. */
function serverEventsSince(logFile: string, from: number): string[] {
  const text = readFileSync(logFile).subarray(from).toString('utf8');
  return text
    .split('\n')
    .filter((line) => /checkpoint (starting|complete)|automatic (vacuum|analyze)/.test(line))
    .map((line) => line.replace(/\s+/g, ' ').slice(0, 200));
}
