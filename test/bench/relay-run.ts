import type { KafkaServer } from '../harness/kafka';
import type { PostgresServer } from '../harness/postgres';
import { withSql } from '../helpers/outbox';
import { RelayProcess } from '../helpers/relay-process';
import { waitFor } from '../helpers/wait-for';
import { now, watchTopic } from './measure';
import { catchUpCpu, type CatchUpCpu } from './cpu';
import {
  confirmedAtLeast,
  createBenchTable,
  dropBenchTable,
  fill,
  topicRecords,
  walsenderPid,
} from './workload';

/** What an exactly-once run adds: its own topics, so it never reads what the other run wrote. */
export function exactlyOnceEnv(table: string): Record<string, string> {
  return {
    DELIVERY_GUARANTEE: 'exactly-once',
    TOPIC_TEMPLATE: `${table}_eos.{aggregateType}`,
    POSITION_TOPIC: `${table}_eos.positions`,
  };
}

/** The relay's environment for a bench workload: the settings users get by default. */
export function relayEnvFor(pg: PostgresServer, kafka: KafkaServer, table: string, slot: string) {
  return {
    DATABASE_URL: pg.url,
    KAFKA_BROKERS: kafka.brokers,
    OUTBOX_TABLE: table,
    SLOT_NAME: slot,
    PUBLICATION_NAME: `${table}_pub`,
    TOPIC_TEMPLATE: `${table}.{aggregateType}`,
    TOPIC_PARTITIONS: '6',
    LOG_LEVEL: 'info',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
  };
}

export interface CatchUp {
  /** When the relay process was started. */
  startedAt: number;
  /** When the relay said it was streaming. */
  streamingAt: number;
  /** First and last record seen on the topic (NaN without a topic to watch). */
  first: number;
  last: number;
  /** When the slot had confirmed `endLsn`. */
  confirmedAt: number;
  /**
   * Records on the topic counted right after the slot had confirmed `endLsn`: fewer than the
   * workload's would be a relay acknowledging what it has not published (NaN without a topic).
   */
  recordsAtConfirm: number;
  /** The slot confirmed `endLsn` with records missing from the topic (see `recordsAtConfirm`). */
  confirmedEarly: boolean;
  peakRssBytes: number;
  /** CPU per event from "streaming" to the end (relay, its walsender, the broker). */
  cpu: CatchUpCpu;
  /**
   * Reading paused by flow control (events in flight at MAX_IN_FLIGHT_EVENTS / _BYTES, waiting
   * for Kafka's acknowledgements) over the run, from the relay's metrics: seconds and pauses.
   */
  flowPaused: { seconds: number; pauses: number };
}

/**
 * Share of a catch-up the relay's reading was paused by flow control, of the time from "streaming"
 * to the slot's confirming the end (the span every pause falls in).
 */
export function flowPausedShare(
  run: Pick<CatchUp, 'flowPaused' | 'streamingAt' | 'confirmedAt'>,
): number {
  return run.flowPaused.seconds / (run.confirmedAt - run.streamingAt);
}

/**
 * Starts the relay on a workload written beforehand and waits until `events` records are on
 * `topic` (if given; counted by offsets, so a run that confirms the end with records missing
 * times out instead of giving a figure) and the slot has confirmed `endLsn`; then stops it
 * (SIGTERM).
 */
export async function relayCatchUp(options: {
  pg: PostgresServer;
  kafka: KafkaServer;
  table: string;
  slot: string;
  endLsn: string;
  timeoutMs: number;
  topic?: { name: string; events: number };
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Another build's `cli.js` (bench:ab); the checkout's `dist/cli.js` by default. */
  cli?: string;
  /** Called once the relay streams, with the processes of the catch-up (bench:profile --perf). */
  onStreaming?: (pids: { relay: number; walsender: number | undefined }) => void;
}): Promise<CatchUp> {
  const { pg, kafka, slot, endLsn, timeoutMs } = options;
  const startedAt = now();
  const relay = new RelayProcess(
    { ...relayEnvFor(pg, kafka, options.table, slot), ...options.env },
    options.nodeArgs,
    options.cli,
  );
  try {
    await relay.waitUntilStreaming(120_000);
    const streamingAt = now();
    const walsender = await walsenderPid(pg.url, slot);
    const cpu = catchUpCpu({ system: relay.pid, walsender, kafka: kafka.pid });
    options.onStreaming?.({ relay: relay.pid, walsender });
    // Both watched at once: the slot confirming the end before the records are all on the topic
    // would be a relay acknowledging what it has not published (reported as `confirmedEarly`).
    const [seen, confirmed] = await Promise.all([
      options.topic === undefined
        ? { first: NaN, last: NaN, slowestCountS: NaN }
        : watchTopic(
            kafka.brokers,
            options.topic.name,
            options.topic.events,
            timeoutMs,
            () => relay.running,
          ),
      // One connection for the whole wait: a new one per poll (a backend forked every 50 ms)
      // took CPU from the relay it measured.
      withSql(pg.url, (sql) =>
        waitFor(() => confirmedAtLeast(sql, slot, endLsn), {
          timeoutMs,
          intervalMs: 50,
          description: 'the relay to confirm the last commit',
        }),
      ).then(async () => {
        const at = now();
        // Counted after the confirmation was seen: records only ever get added, so a count below
        // the workload's proves the slot moved past records not yet on Kafka.
        const records =
          options.topic === undefined ? NaN : await topicRecords(kafka.brokers, options.topic.name);
        return { at, records };
      }),
    ]);
    const confirmedAt = confirmed.at;
    const cpuPerEvent = cpu.stop(options.topic?.events ?? NaN);
    const metrics = await relay.metrics().catch(() => new Map<string, number>());
    const flowPaused = {
      seconds: metrics.get('outbox_relay_flow_control_paused_seconds_total') ?? NaN,
      pauses: metrics.get('outbox_relay_flow_control_pauses_total') ?? NaN,
    };
    const confirmedEarly = options.topic !== undefined && confirmed.records < options.topic.events;
    if (confirmedEarly)
      process.stdout.write(
        `[bench] ERROR: ${slot} confirmed the end with ${confirmed.records} of ${options.topic?.events} records on ${options.topic?.name}; the relay's last log lines:\n${relay.tail(40)}\n`,
      );
    else if (seen.last - confirmedAt > 1)
      process.stdout.write(
        `[bench] note: all ${confirmed.records} records were on ${options.topic?.name} when ${slot} confirmed the end, but the topic watcher counted the last of them ${(seen.last - confirmedAt).toFixed(1)} s later (its slowest count took ${seen.slowestCountS.toFixed(1)} s)\n`,
      );
    return {
      startedAt,
      streamingAt,
      first: seen.first,
      last: seen.last,
      confirmedAt,
      recordsAtConfirm: confirmed.records,
      confirmedEarly,
      peakRssBytes: relay.peakRss(),
      cpu: cpuPerEvent,
      flowPaused,
    };
  } finally {
    await relay.stop();
  }
}

/** One of the relay set-ups `alternatingCatchUps` compares. */
export interface CatchUpVariant {
  name: string;
  /** Environment on top of the bench's defaults, for a workload table. */
  env?(table: string): Record<string, string>;
  /** The topic its records land on, for a workload table. */
  topic(table: string): string;
  /** Another build's `cli.js`; the checkout's by default. */
  cli?: string;
}

/**
 * Rounds of catch-ups in which every variant reads the same WAL: each round writes the workload
 * once, with a slot per variant, and runs them one after the other, in reversed order every other
 * round, so machine noise and warmth hit them alike. `onRun` gets each catch-up as it ends.
 */
export async function alternatingCatchUps(options: {
  pg: PostgresServer;
  kafka: KafkaServer;
  prefix: string;
  variants: CatchUpVariant[];
  rounds: number;
  events: number;
  perTxn: number;
  onRun(variant: CatchUpVariant, round: number, run: CatchUp): void;
}): Promise<void> {
  const { pg, kafka, variants, events } = options;
  for (let round = 1; round <= options.rounds; round++) {
    const name = `${options.prefix}_${options.perTxn}_${round}_${Date.now() % 100_000}`;
    const bench = await createBenchTable(
      pg.url,
      name,
      variants.map((_, i) => `v${i}`),
    );
    const endLsn = await fill(pg.url, name, events, options.perTxn, 10_000);
    const order = round % 2 === 1 ? variants : [...variants].reverse();
    for (const variant of order) {
      const run = await relayCatchUp({
        pg,
        kafka,
        table: name,
        slot: bench.slots[variants.indexOf(variant)]!,
        endLsn,
        timeoutMs: 10 * 60_000,
        topic: { name: variant.topic(name), events },
        env: variant.env?.(name) ?? {},
        cli: variant.cli,
      });
      options.onRun(variant, round, run);
    }
    await dropBenchTable(pg.url, bench);
  }
}
