import type { CatchUpCpu } from './cpu';
import type { LatencyResult } from './measure';

export interface ThroughputRow {
  workload: string;
  rowsPerTxn: number;
  events: number;
  /** events/s */
  decode: number;
  produce: number;
  /** The relay's replication connection reading the slot without decoding (events/s) */
  bareReader?: number;
  /** The same reader pausing 1 ms every 2 ms, so the walsender sends in batches (events/s) */
  burstReader?: number;
  /** kafka-producer-perf-test (Java client, its defaults), for reference */
  javaProducer?: number;
  relay: number;
  /** events/s from the relay's start of streaming to the slot confirming the last commit */
  relayConfirmed: number;
  relayRssBytes: number;
  /** DELIVERY_GUARANTEE=exactly-once on the same WAL, read back with read_committed (events/s) */
  relayExactlyOnce?: number;
  /** exactly-once, from its start of streaming to the slot confirming the last commit */
  relayExactlyOnceConfirmed?: number;
  relayExactlyOnceRssBytes?: number;
  debezium?: number;
  debeziumRssBytes?: number;
  /** VALUE_FORMAT=avro with a schema registry (Apicurio), at-least-once, same WAL (events/s) */
  relayAvroRegistry?: number;
  relayAvroRegistryRssBytes?: number;
  /** CPU per event of each catch-up: the system, the walsender serving it, the broker. */
  relayCpu?: CatchUpCpu;
  relayExactlyOnceCpu?: CatchUpCpu;
  debeziumCpu?: CatchUpCpu;
  /**
   * Share of the relay's catch-up (from "streaming" to the slot confirming the end) its reading
   * was paused by flow control, waiting for Kafka's acknowledgements (at-least-once, exactly-once).
   */
  relayFlowPausedShare?: number;
  relayExactlyOnceFlowPausedShare?: number;
  /**
   * events/s the walsender serving the relay could send with a whole core to itself, at the CPU
   * per event it used in the relay's catch-up: a bound on any reader of the slot read that way.
   */
  walsenderBound?: number;
}

export interface LatencyRow extends LatencyResult {
  system: 'outbox-relay' | 'outbox-relay exactly-once' | 'debezium' | 'kafkajs floor';
  rssBytes: number;
  /** The relay's own commit-to-ack histogram over the same run: bucket bounds (ms). */
  ackP50Ms?: number;
  ackP99Ms?: number;
  /** From commit to the relay having read the transaction (outbox_relay_read_latency_seconds). */
  readP50Ms?: number;
  readP99Ms?: number;
  /** Checkpoint and autovacuum lines of PostgreSQL's log written during the window. */
  serverEvents?: string[];
  /** The relay's event-loop delay over the window, and its GC pauses. */
  eventLoopDelayP99Ms?: number;
  eventLoopDelayMaxMs?: number;
  gcMs?: number;
  gcPauses?: number;
  /** The broker JVM's GC pauses during the window: count, total and longest (ms). */
  brokerGc?: { pauses: number; totalMs: number; maxMs: number };
  /** Time the relay's reading was paused by its in-flight bounds during the window. */
  flowPausedMs?: number;
  /** CPU over the window: the machine's busy share (0-1), and cores used by each process. */
  machineBusy?: number;
  cpuCores?: Record<string, number>;
}

export interface BenchResults {
  date: string;
  command: string;
  quick: boolean;
  machine: { cores: number; memoryGiB: number; node: string };
  versions: Record<string, string>;
  throughput: ThroughputRow[];
  latency: LatencyRow[];
  bigTransaction: {
    rows: number;
    relayRssBytes: number;
    relaySeconds: number;
    relayExactlyOnceRssBytes?: number;
    relayExactlyOnceSeconds?: number;
    /** From process start (the others from "streaming") to every record on the topic and confirmed. */
    relaySecondsFromStart?: number;
    relayExactlyOnceSecondsFromStart?: number;
  };
}

const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const pct = (a: number, b: number) =>
  Number.isFinite(a / b) ? `${Math.round((100 * a) / b)}%` : '-';
const ratio = (a: number, b: number | undefined) =>
  b === undefined || !Number.isFinite(a / b) ? '-' : `${(a / b).toFixed(2)}x`;
const mib = (bytes: number | undefined) =>
  bytes === undefined || !Number.isFinite(bytes) ? '-' : `${Math.round(bytes / 1024 / 1024)} MiB`;
const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : '-');

/**
 * The lower of the relay's two ceilings: reading (the fastest of pg_recvlogical and the bare
 * readers: each is a way to read the slot, and the fastest shows what the walsender can send)
 * and producing.
 */
export function lowerCeiling(t: ThroughputRow): number {
  const read = Math.max(t.decode, t.bareReader ?? 0, t.burstReader ?? 0);
  return Math.min(read, t.produce);
}

/** The results as Markdown tables (printed by the bench and pasted into the README). */
export function markdown(results: BenchResults): string {
  const lines = [
    '| workload | decode ceiling (pg_recvlogical) | read ceiling (bare Node reader) | read ceiling (reading in bursts) | produce ceiling (kafkajs) | Java producer (perf-test, reference) | outbox-relay | relay / decode | relay / produce | relay / lower ceiling | exactly-once | exactly-once / at-least-once | Debezium Server | relay / Debezium | relay peak RSS | exactly-once peak RSS | Debezium peak RSS |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.throughput.map(
      (t) =>
        `| ${t.workload} (${n(t.events)} events) | ${n(t.decode)}/s | ${t.bareReader === undefined ? '-' : `${n(t.bareReader)}/s`} | ${t.burstReader === undefined ? '-' : `${n(t.burstReader)}/s`} | ${n(t.produce)}/s | ${t.javaProducer === undefined ? '-' : `${n(t.javaProducer)}/s`} | ${n(t.relay)}/s | ${pct(t.relay, t.decode)} | ${pct(t.relay, t.produce)} | ${pct(t.relay, lowerCeiling(t))} | ${t.relayExactlyOnce === undefined ? '-' : `${n(t.relayExactlyOnce)}/s`} | ${pct(t.relayExactlyOnce ?? NaN, t.relay)} | ${t.debezium === undefined ? '-' : `${n(t.debezium)}/s`} | ${ratio(t.relay, t.debezium)} | ${mib(t.relayRssBytes)} | ${mib(t.relayExactlyOnceRssBytes)} | ${mib(t.debeziumRssBytes)} |`,
    ),
    ...results.throughput
      .filter((t) => t.relayAvroRegistry !== undefined)
      .map(
        (t) =>
          `\nAvro through a schema registry (\`VALUE_FORMAT=avro\`, \`SCHEMA_REGISTRY_URL\`, Apicurio), ${t.workload}: ${n(t.relayAvroRegistry!)}/s, ${pct(t.relayAvroRegistry!, t.relay)} of JSON, peak RSS ${mib(t.relayAvroRegistryRssBytes)}.`,
      ),
    ...cpuTable(results.throughput),
    '',
    '| write rate | system | p50 | p95 | p99 | max | received | peak RSS | relay commit-to-ack p50 / p99 (histogram) | commit-to-read p50 / p99 (histogram) | relay event-loop delay p99 / max | relay GC in the window |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.latency.map(
      (l) =>
        `| ${n(l.rate)}/s${l.achievedRate !== undefined && l.achievedRate < 0.98 * l.rate ? ` (achieved ${n(l.achievedRate)}/s)` : ''} | ${l.system === 'kafkajs floor' ? 'kafkajs produce-to-consume floor' : l.system} | ${ms(l.p50)} | ${ms(l.p95)} | ${ms(l.p99)} | ${ms(l.max)} | ${l.received}/${l.sent} | ${mib(l.rssBytes)} | ${l.ackP50Ms === undefined ? '-' : `<= ${ms(l.ackP50Ms)} / <= ${ms(l.ackP99Ms ?? NaN)}`} | ${l.readP50Ms === undefined ? '-' : `<= ${ms(l.readP50Ms)} / <= ${ms(l.readP99Ms ?? NaN)}`} | ${l.eventLoopDelayP99Ms === undefined ? '-' : `${ms(l.eventLoopDelayP99Ms)} / ${ms(l.eventLoopDelayMaxMs ?? NaN)}`} | ${l.gcMs === undefined ? '-' : `${Math.round(l.gcMs)} ms, ${l.gcPauses ?? 0} pauses`} |`,
    ),
    '',
    bigTransactionLine(results.bigTransaction),
  ];
  return `${lines.join('\n')}\n`;
}

/** CPU per event of each catch-up above (runs before this table was added have none). */
function cpuTable(rows: ThroughputRow[]): string[] {
  if (!rows.some((t) => t.relayCpu !== undefined)) return [];
  const us = (x: number | undefined) =>
    x !== undefined && Number.isFinite(x) ? x.toFixed(1) : '-';
  const cell = (c: CatchUpCpu | undefined) =>
    c === undefined
      ? '-'
      : `${us(c.systemUs)} / ${us(c.walsenderUs)} / ${us(c.kafkaUs)} (${Math.round(100 * c.machineBusy)}%)`;
  return [
    '',
    'CPU per event during each catch-up above, in microseconds: the system / the walsender serving it / the broker (machine busy meanwhile, of all cores):',
    '',
    "| workload | outbox-relay | exactly-once | Debezium Server | Debezium CPU / relay CPU | walsender bound (one core at the relay walsender's CPU per event) / Debezium |",
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (t) =>
        `| ${t.workload} | ${cell(t.relayCpu)} | ${cell(t.relayExactlyOnceCpu)} | ${cell(t.debeziumCpu)} | ${ratio(t.debeziumCpu?.systemUs ?? NaN, t.relayCpu?.systemUs)} | ${t.walsenderBound === undefined || !Number.isFinite(t.walsenderBound) ? '-' : `${n(t.walsenderBound)}/s = ${ratio(t.walsenderBound, t.debezium)}`} |`,
    ),
  ];
}

function bigTransactionLine(big: BenchResults['bigTransaction']): string {
  const fromStart = (s: number | undefined) =>
    s === undefined ? '' : ` (${s.toFixed(1)} s from process start)`;
  const eos =
    big.relayExactlyOnceSeconds === undefined
      ? ''
      : `; exactly-once: peak RSS ${mib(big.relayExactlyOnceRssBytes)}, all on the topic and confirmed ${big.relayExactlyOnceSeconds.toFixed(1)} s after streaming began${fromStart(big.relayExactlyOnceSecondsFromStart)}`;
  return `One transaction of ${n(big.rows)} rows: relay peak RSS ${mib(big.relayRssBytes)}, all on the topic and confirmed ${big.relaySeconds.toFixed(1)} s after streaming began${fromStart(big.relaySecondsFromStart)}${eos}.`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** A two-panel SVG chart: throughput against the ceilings, and latency percentiles. */
export function chart(results: BenchResults): string {
  const width = 900;
  const panelHeight = 300;
  const colours = { decode: '#9e9e9e', produce: '#cfcfcf', relay: '#2e7d32', debezium: '#1565c0' };
  const out: string[] = [];
  const text = (x: number, y: number, s: string, extra = '') =>
    out.push(
      `<text x="${x}" y="${y}" font-family="sans-serif"${extra.includes('font-size') ? '' : ' font-size="12"'} ${extra}>${escape(s)}</text>`,
    );
  const bars = (
    top: number,
    title: string,
    groups: Array<{ label: string; values: Array<[keyof typeof colours, number | undefined]> }>,
    unit: string,
  ) => {
    text(20, top + 20, title, 'font-weight="bold" font-size="14"');
    const max = Math.max(1, ...groups.flatMap((g) => g.values.map(([, v]) => v ?? 0)));
    const plotTop = top + 40;
    const plotHeight = panelHeight - 90;
    const groupWidth = (width - 80) / Math.max(groups.length, 1);
    groups.forEach((g, gi) => {
      const barWidth = Math.min(40, (groupWidth - 20) / g.values.length);
      g.values.forEach(([key, value], vi) => {
        if (value === undefined || !Number.isFinite(value)) return;
        const h = (value / max) * plotHeight;
        const x = 60 + gi * groupWidth + vi * barWidth;
        const y = plotTop + plotHeight - h;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${colours[key]}"/>`,
        );
        text(x, y - 4, `${Math.round(value).toLocaleString('en-US')}`, 'font-size="9"');
      });
      text(60 + gi * groupWidth, plotTop + plotHeight + 16, g.label);
    });
    out.push(
      `<line x1="55" y1="${plotTop + plotHeight}" x2="${width - 20}" y2="${plotTop + plotHeight}" stroke="#333"/>`,
    );
    text(width - 160, top + 20, unit, 'fill="#555"');
  };
  const debezium = results.throughput.some((t) => t.debezium !== undefined);
  bars(
    0,
    'Catch-up throughput (events/s, higher is better)',
    results.throughput.map((t) => ({
      label: t.workload,
      values: [
        ['decode', t.decode],
        ['produce', t.produce],
        ['relay', t.relay],
        ['debezium', t.debezium],
      ],
    })),
    'events/s',
  );
  bars(
    panelHeight,
    'End-to-end latency p50 / p95 / p99 (ms, lower is better)',
    results.latency
      .filter((l) => l.system !== 'kafkajs floor')
      .map((l) => ({
        label: `${l.system} @ ${l.rate}/s`,
        values: [
          [l.system === 'debezium' ? 'debezium' : 'relay', l.p50],
          [l.system === 'debezium' ? 'debezium' : 'relay', l.p95],
          [l.system === 'debezium' ? 'debezium' : 'relay', l.p99],
        ],
      })),
    'ms',
  );
  const legend: Array<[keyof typeof colours, string]> = [
    ['decode', 'decode ceiling (pg_recvlogical)'],
    ['produce', 'produce ceiling (kafkajs)'],
    ['relay', 'outbox-relay'],
    ...(debezium
      ? [
          ['debezium', `Debezium Server ${results.versions.debezium ?? ''}`] as [
            keyof typeof colours,
            string,
          ],
        ]
      : []),
  ];
  legend.forEach(([key, label], i) => {
    out.push(
      `<rect x="${60 + i * 210}" y="${2 * panelHeight + 5}" width="12" height="12" fill="${colours[key]}"/>`,
    );
    text(76 + i * 210, 2 * panelHeight + 15, label);
  });
  text(
    60,
    2 * panelHeight + 40,
    `${results.date}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.command}`,
    'fill="#555"',
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${2 * panelHeight + 55}" viewBox="0 0 ${width} ${2 * panelHeight + 55}"><rect width="100%" height="100%" fill="white"/>${out.join('')}</svg>\n`;
}
