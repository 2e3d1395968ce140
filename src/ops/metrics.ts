import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { EventHistogram } from './event-histogram';
import type { RelayState } from './state';

const PREFIX = 'outbox_relay_';

/**
 * The relay's Prometheus metrics (prefix `outbox_relay_`). Counters and the latency histogram are
 * fed as things happen; gauges read `RelayState` when scraped.
 */
export class RelayMetrics {
  readonly registry = new Registry();
  readonly eventsPublished: Counter<'topic'>;
  readonly deadLetters: Counter<'reason'>;
  readonly latency: EventHistogram;
  readonly readLatency: EventHistogram;
  readonly flowPauses: Counter;
  readonly flowPausedSeconds: Counter;
  readonly retries: Counter<'kind'>;
  readonly errors: Counter<'code'>;
  readonly reconnects: Counter;
  readonly stalls: Counter;
  readonly transactions: Counter<'result'>;
  readonly transactionDuration: Histogram;
  readonly transactionEvents: Histogram;
  readonly fenced: Counter;

  constructor(state: RelayState) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.eventsPublished = new Counter({
      name: `${PREFIX}events_published_total`,
      help: 'Events acknowledged by Kafka (acks=all), by topic; dead letters count under their topic',
      labelNames: ['topic'],
      registers,
    });
    this.deadLetters = new Counter({
      name: `${PREFIX}dead_letters_total`,
      help: 'Rows sent to the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.latency = new EventHistogram(
      `${PREFIX}event_latency_seconds`,
      "From the transaction's commit (server clock) to Kafka's acknowledgement (relay clock)",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      this.registry,
    );
    this.readLatency = new EventHistogram(
      `${PREFIX}read_latency_seconds`,
      "From a transaction's commit (server clock) to the relay having read it to its COMMIT (relay clock), per transaction with events: the database and walsender's share of event_latency",
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      this.registry,
    );
    this.flowPauses = new Counter({
      name: `${PREFIX}flow_control_pauses_total`,
      help: 'Times reading the replication stream was paused because MAX_IN_FLIGHT_EVENTS / MAX_IN_FLIGHT_BYTES were reached',
      registers,
    });
    this.flowPausedSeconds = new Counter({
      name: `${PREFIX}flow_control_paused_seconds_total`,
      help: 'Time reading was paused by those bounds (counted when reading resumes)',
      registers,
    });
    this.retries = new Counter({
      name: `${PREFIX}retries_total`,
      help: 'Retried operations, by kind (kafka_send, replication_reconnect, startup)',
      labelNames: ['kind'],
      registers,
    });
    this.errors = new Counter({
      name: `${PREFIX}errors_total`,
      help: 'Errors met, by code (see the README: failure modes)',
      labelNames: ['code'],
      registers,
    });
    this.reconnects = new Counter({
      name: `${PREFIX}reconnects_total`,
      help: 'Replication sessions started again after a lost or stalled stream',
      registers,
    });
    this.stalls = new Counter({
      name: `${PREFIX}stalls_total`,
      help: 'Replication streams found stalled by the heartbeat',
      registers,
    });
    this.transactions = new Counter({
      name: `${PREFIX}transactions_total`,
      help: 'Exactly-once: Kafka transactions, by result (committed; aborted: given up after a failure, their records never visible to read_committed consumers)',
      labelNames: ['result'],
      registers,
    });
    this.transactionDuration = new Histogram({
      name: `${PREFIX}transaction_duration_seconds`,
      help: 'Exactly-once: from the first send of a Kafka transaction to its commit returning',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.transactionEvents = new Histogram({
      name: `${PREFIX}transaction_events`,
      help: 'Exactly-once: events (dead letters included, the position record not) per committed Kafka transaction',
      buckets: [1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 50_000],
      registers,
    });
    this.fenced = new Counter({
      name: `${PREFIX}fenced_total`,
      help: 'Exactly-once: times this instance found its producer fenced by another instance with the same transactional id',
      registers,
    });
    const gauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        registers,
        collect() {
          const value = read();
          this.reset();
          if (value !== undefined) this.set(value);
        },
      });
    gauge(
      'replication_lag_bytes',
      "Server WAL position minus the slot's confirmed_flush_lsn (sampled each heartbeat)",
      () => state.slot?.lagBytes,
    );
    gauge(
      'slot_retained_wal_bytes',
      "Server WAL position minus the slot's restart_lsn: WAL kept on the server for the relay",
      () => state.slot?.retainedBytes,
    );
    gauge(
      'slot_safe_wal_bytes',
      'pg_replication_slots.safe_wal_size: WAL that can still be written before the slot is at risk (absent when unlimited)',
      () => state.slot?.safeWalBytes ?? undefined,
    );
    gauge('confirmed_lsn', 'Confirmed flush LSN as a number (exact below 2^53)', () =>
      state.confirmedLsn === undefined ? undefined : Number(state.confirmedLsn),
    );
    gauge('in_flight_events', 'Events read and not yet acknowledged by Kafka', () =>
      state.session === undefined ? 0 : state.session.inFlight.events,
    );
    gauge('in_flight_bytes', 'Bytes of events read and not yet acknowledged by Kafka', () =>
      state.session === undefined ? 0 : state.session.inFlight.bytes,
    );
    gauge(
      'heartbeat_rtt_seconds',
      'Round trip of the last heartbeat: written through SQL, read back from the stream',
      () => (state.heartbeatRttMs === undefined ? undefined : state.heartbeatRttMs / 1000),
    );
    gauge(
      'last_event_commit_timestamp_seconds',
      'Commit time of the newest event Kafka acknowledged',
      () => (state.lastEventCommitMs === undefined ? undefined : state.lastEventCommitMs / 1000),
    );
    gauge(
      'slot_gap',
      '1 when the slot was found lost at start-up and the gap is not repaired (ON_SLOT_GAP)',
      () => (state.slotGap === undefined || state.slotGap.repaired ? 0 : 1),
    );
    gauge('ready', '1 while /readyz answers 200', () => (state.readiness().ready ? 1 : 0));
    new Gauge({
      name: `${PREFIX}role`,
      help: '1 for the current role: active (streaming), standby (another instance holds the slot), starting, stopping',
      labelNames: ['role'],
      registers,
      collect() {
        for (const role of ['starting', 'active', 'standby', 'stopping'] as const)
          this.set({ role }, state.role === role ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}slot_wal_status`,
      help: 'pg_replication_slots.wal_status of the slot (1 for the current value); "lost" means events are gone',
      labelNames: ['status'],
      registers,
      collect() {
        this.reset();
        const status = state.slot?.walStatus;
        if (status !== undefined && status !== null) this.set({ status }, 1);
      },
    });
  }
}
