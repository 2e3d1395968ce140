import type { Client } from 'pg';
import type { Logger } from 'pino';
import type { PublishedPosition } from '../ack/published-position';
import type { Config } from '../config/load';
import type { Delivery, EventSink } from '../delivery/delivery';
import { isRelayError, RelayError, toRelayError } from '../errors';
import { raceTimeout } from '../retry/timeout';
import type { RecordMapper } from '../kafka/record-mapper';
import type { Heartbeat } from '../ops/heartbeat';
import type { RelayOps } from '../ops/relay-ops';
import { formatLsn } from '../replication/lsn';
import type { SlotState } from '../replication/preflight';
import { ReplicationStream } from '../replication/replication-stream';
import type { Interrupt } from './interrupts';
import { StreamSession, type EventToken } from './session';
import { SessionMonitor } from './session-monitor';
import { outboxLayout } from './from-config';

/** How long the Kafka probe behind readiness waits for a metadata answer. */
const KAFKA_PROBE_TIMEOUT_MS = 5_000;

export interface ActiveSessionDeps {
  config: Config;
  log: Logger;
  ops: RelayOps;
  delivery: Delivery<EventToken>;
  heartbeat: Heartbeat;
  records: RecordMapper;
  interrupt(interrupt: Interrupt): void;
  withSql<T>(fn: (sql: Client) => Promise<T>): Promise<T>;
  /** The delivery is ready; exactly-once says what it found already published. */
  onDeliveryOpened(published: PublishedPosition | undefined): void;
}

/**
 * One streaming session while it holds the slot: the replication stream, the session reading it,
 * the delivery's sink and the session's timers; and the two ways it ends (drain, close).
 */
export class ActiveSession {
  private stream: ReplicationStream | undefined;
  private sink: EventSink<EventToken> | undefined;
  private monitor: SessionMonitor | undefined;

  private constructor(
    private readonly deps: ActiveSessionDeps,
    readonly session: StreamSession,
  ) {}

  /**
   * Takes the slot and starts streaming: the replication stream (held until the sink is ready),
   * the delivery's session (exactly-once: fencing and the published position), then the timers.
   */
  static async open(
    deps: ActiveSessionDeps,
    slot: SlotState,
    standby: boolean,
  ): Promise<ActiveSession> {
    const { config, ops } = deps;
    const log = deps.log.child({ module: 'stream' });
    const timers: { monitor?: SessionMonitor } = {};
    const session = new StreamSession(
      slot.confirmedFlushLsn,
      {
        table: config.outboxTable,
        layout: outboxLayout(config),
        maxInFlightEvents: config.maxInFlightEvents,
        maxInFlightBytes: config.maxInFlightBytes,
        onInvalidEvent: config.onInvalidEvent,
        deadLetterTopic: config.deadLetterTopic,
        maxRecordBytes: config.kafkaMaxRecordBytes,
        messagePrefix: config.messagePrefix,
        onHeartbeat: (content) => timers.monitor?.onHeartbeat(content),
        onDeadLetter: (reason) => ops.metrics.deadLetters.inc({ reason }),
        onFlowPaused: (ms) => {
          ops.metrics.flowPauses.inc();
          ops.metrics.flowPausedSeconds.inc(ms / 1000);
        },
        onTransactionRead: (commitTimeMs) =>
          ops.metrics.readLatency.observe(Math.max(Date.now() - commitTimeMs, 0) / 1000),
      },
      deps.records,
      log,
    );
    const active = new ActiveSession(deps, session);
    try {
      active.stream = await ReplicationStream.start(
        {
          databaseUrl: config.databaseUrl,
          slotName: config.slotName,
          publicationName: config.publicationName,
          messages: true,
        },
        session,
        log,
      );
      session.hold();
      active.watch(active.stream);
      const { sink, published } = await deps.delivery.openSession();
      active.sink = sink;
      deps.onDeliveryOpened(published);
      session.start(sink, published);
    } catch (err) {
      await active.close();
      throw err;
    }
    session.sendStatus(true);
    deps.log.info(
      {
        slot: config.slotName,
        publication: config.publicationName,
        startLsn: formatLsn(slot.confirmedFlushLsn),
        delivery: deps.delivery.guarantee,
        tookOver: standby,
      },
      standby ? 'slot is free: this instance is now active and streaming' : 'streaming',
    );
    const { state } = ops;
    state.role = 'active';
    state.session = session;
    state.stalled = false;
    deps.heartbeat.reset();
    active.monitor = timers.monitor = new SessionMonitor(
      {
        config,
        log,
        state,
        metrics: ops.metrics,
        heartbeat: deps.heartbeat,
        withSql: (fn) => deps.withSql(fn),
        probeKafka: () => deps.delivery.probe(KAFKA_PROBE_TIMEOUT_MS),
        interrupt: (interrupt) => deps.interrupt(interrupt),
      },
      session,
    );
    active.monitor.start();
    return active;
  }

  /** True once the sink gave up (a fatal send error, a failed Kafka transaction). */
  get sinkStopped(): boolean {
    return this.sink?.isStopped === true;
  }

  /** Shutdown: stop reading, wait (bounded) for Kafka to acknowledge what is in flight, confirm. */
  async drain(): Promise<void> {
    const { session, sink } = this;
    const { config, log } = this.deps;
    session.stopReading();
    log.info(
      { inFlight: session.inFlight.events, timeoutMs: config.shutdownTimeoutMs },
      'stopping: waiting for in-flight events',
    );
    const drained = await raceTimeout(
      (sink?.whenIdle() ?? Promise.resolve()).then(() => true),
      config.shutdownTimeoutMs,
      false,
    );
    session.sendStatus(true);
    log.info({ confirmedLsn: formatLsn(session.confirmed) }, 'final position confirmed');
    if (drained && sink?.isStopped === true && session.inFlight.events > 0) {
      // The sink gave up (a failed Kafka commit, a fatal send error) instead of draining.
      throw new RelayError(
        'SHUTDOWN_INCOMPLETE',
        `shutdown could not publish ${session.inFlight.events} events: Kafka failed while stopping; they were not confirmed and will be published again on the next start`,
      );
    }
    if (!drained) {
      throw new RelayError(
        'SHUTDOWN_TIMEOUT',
        `shutdown timed out after ${config.shutdownTimeoutMs} ms with ${session.inFlight.events} events not acknowledged by Kafka; they were not confirmed and will be published again on the next start`,
      );
    }
  }

  /** Ends the session: timers, late acknowledgements, the sink's unsent work, the stream. */
  async close(): Promise<void> {
    const { session, sink, stream, monitor } = this;
    monitor?.stop();
    const { state } = this.deps.ops;
    state.lastConfirmedLsn = session.confirmed;
    if (state.session === session) state.session = undefined;
    session.end();
    if (sink !== undefined) await this.deps.delivery.closeSession();
    await stream?.close();
  }

  /** Turns the session's and the stream's ends into interrupts for the relay's loop. */
  private watch(stream: ReplicationStream): void {
    const interrupt = (i: Interrupt) => this.deps.interrupt(i);
    this.session.onFailure((error) =>
      interrupt({ kind: error.retriable ? 'reconnect' : 'fatal', error }),
    );
    stream.finished.then(
      () =>
        interrupt({
          kind: 'reconnect',
          error: new RelayError('REPLICATION_LOST', 'the server ended the replication stream', {
            retriable: true,
          }),
        }),
      (error: unknown) =>
        interrupt({
          kind: isRelayError(error) && !error.retriable ? 'fatal' : 'reconnect',
          error: toRelayError(error, 'REPLICATION_LOST', { retriable: true }),
        }),
    );
  }
}
