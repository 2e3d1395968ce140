import type { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import type { AvroSchemas } from '../kafka/avro';
import type { Logger } from 'pino';
import type { KafkaLogTap } from '../logger';
import type { Config } from '../config/load';
import { describeError, isRelayError, RelayError } from '../errors';
import { formatLsn } from '../replication/lsn';
import { preflight, type SlotState } from '../replication/preflight';
import { ReplicationStream } from '../replication/replication-stream';
import { backoffDelay, retryUntil, sleep } from '../retry/backoff';
import { withDatabase } from './database';
import { outboxLayout, preflightOptions, recordMapper } from './wiring';
import { AtLeastOnceDelivery } from '../delivery/at-least-once';
import type { Delivery, DeliveryCallbacks, EventSink } from '../delivery/delivery';
import { ExactlyOnceDelivery } from '../delivery/exactly-once';
import { Interrupts, type Interrupt } from './interrupts';
import { StreamSession, type EventToken } from './session';
import { SessionMonitor } from './session-monitor';
import { Heartbeat } from '../ops/heartbeat';
import type { RelayOps } from '../ops/relay-ops';
import type { RecordMapper } from '../kafka/record-mapper';

/** How long the Kafka probe behind readiness waits for a metadata answer. */
const KAFKA_PROBE_TIMEOUT_MS = 5_000;

/** A session that holds the slot: what ending it has to close. */
interface ActiveSession {
  session: StreamSession;
  stream?: ReplicationStream;
  sink?: EventSink<EventToken>;
  monitor?: SessionMonitor;
}

/**
 * The relay's lifecycle: start-up checks, one streaming session at a time (reconnecting with
 * backoff, waiting as a standby while another instance holds the slot), and graceful shutdown.
 */
export class Relay {
  private stopping = false;
  private readonly stopSignal = new AbortController();
  private readonly interrupts = new Interrupts();
  private readonly delivery: Delivery<EventToken>;
  private readonly heartbeat: Heartbeat;
  private readonly records: RecordMapper;
  /** Start-up deadline: until a first session streams, Kafka-side failures end the relay then. */
  private startupDeadline = 0;
  private streamedOnce = false;
  /** The slot existed before this start: a missing exactly-once position is then worth a warning. */
  private slotExisted = false;

  constructor(
    private readonly config: Config,
    kafka: Kafka,
    private readonly log: Logger,
    private readonly ops: RelayOps,
    avroSchemas?: AvroSchemas,
    kafkaLogs?: KafkaLogTap,
  ) {
    const callbacks: DeliveryCallbacks<EventToken> = {
      onAcked: (tokens) => this.acked(tokens),
      onFatal: (error) => this.interrupt({ kind: 'fatal', error }),
      onSessionFailed: (error) => this.interrupt({ kind: 'session', error }),
      onRetry: (error) => this.ops.error(error, 'kafka_send'),
    };
    this.delivery =
      config.deliveryGuarantee === 'exactly-once'
        ? new ExactlyOnceDelivery(kafka, config, callbacks, ops.metrics, log, kafkaLogs)
        : new AtLeastOnceDelivery(kafka, config, callbacks, log);
    this.heartbeat = new Heartbeat(config.slotName);
    this.records = recordMapper(config, avroSchemas);
  }

  /** Asks the relay to stop: finish in-flight events (bounded), confirm, close. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.ops.state.role = 'stopping';
    this.stopSignal.abort();
    this.interrupt({ kind: 'stop' });
  }

  /** Runs until stopped (resolves) or an unrecoverable error (rejects with a RelayError). */
  async run(): Promise<void> {
    this.startupDeadline = Date.now() + this.config.startupTimeoutMs;
    const slot = await this.retryUntil(this.startupDeadline, 'PostgreSQL', () =>
      this.preflight(true),
    );
    if (slot === undefined) return;
    this.slotExisted = slot.created !== true;
    this.log.info(
      {
        slot: this.config.slotName,
        publication: this.config.publicationName,
        confirmedLsn: formatLsn(slot.confirmedFlushLsn),
        delivery: this.delivery.guarantee,
      },
      'preflight passed',
    );
    try {
      const connected = await this.retryUntil(this.startupDeadline, 'Kafka', () =>
        this.delivery.connect().then(() => true),
      );
      if (connected === undefined) return;
      this.ops.state.kafkaReachable = true;
      this.ops.state.kafkaFailing = () => this.delivery.isFailing;
      await this.streamUntilStopped();
    } finally {
      // A half-open producer keeps sockets (and the process) alive: always close.
      await this.delivery.disconnect();
    }
  }

  /** Acknowledgements go to the session that read the events; one that ended ignores them. */
  private acked(tokens: EventToken[]): void {
    this.ops.acked(tokens);
    let start = 0;
    for (let i = 1; i <= tokens.length; i++) {
      if (i === tokens.length || tokens[i]!.session !== tokens[start]!.session) {
        tokens[start]!.session.acked(tokens.slice(start, i));
        start = i;
      }
    }
  }

  private async streamUntilStopped(): Promise<void> {
    let attempt = 0;
    let standby = false;
    while (!this.stopping) {
      let active: ActiveSession | undefined;
      try {
        active = await this.openSession(standby);
        standby = false;
        attempt = 0;
        const interrupt = this.stopping
          ? ({ kind: 'stop' } as const)
          : await this.interrupts.next();
        await this.endOnInterrupt(interrupt, active);
        return;
      } catch (err) {
        const next = this.afterError(err);
        if (next === 'stopped') return;
        if (next === 'standby') {
          if (!standby)
            this.log.info(
              { slot: this.config.slotName, retryMs: this.config.slotRetryIntervalMs },
              `${describeError(err)}; waiting as a standby`,
            );
          standby = true;
          await sleep(this.config.slotRetryIntervalMs, this.stopSignal.signal);
          continue;
        }
        attempt++;
        await this.backoff(next, attempt);
      } finally {
        await this.closeSession(active);
      }
    }
  }

  /**
   * Takes the slot and starts streaming: preflight, the replication stream (held until the sink
   * is ready), the delivery's session (exactly-once: fencing and the published position), then
   * the session's timers.
   */
  private async openSession(standby: boolean): Promise<ActiveSession> {
    const slot = await this.preflight(false);
    const log = this.log.child({ module: 'stream' });
    const { config, ops } = this;
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
      },
      this.records,
      log,
    );
    const active: ActiveSession = { session };
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
      this.watchStream(active.stream, session);
      const { sink, published } = await this.delivery.openSession();
      active.sink = sink;
      if (this.delivery.guarantee === 'exactly-once' && published === undefined && this.slotExisted)
        this.warnNoPosition();
      session.start(sink, published);
    } catch (err) {
      await this.closeSession(active);
      throw err;
    }
    session.sendStatus(true);
    this.log.info(
      {
        slot: config.slotName,
        publication: config.publicationName,
        startLsn: formatLsn(slot.confirmedFlushLsn),
        delivery: this.delivery.guarantee,
        tookOver: standby,
      },
      standby ? 'slot is free: this instance is now active and streaming' : 'streaming',
    );
    this.streamedOnce = true;
    const { state } = ops;
    state.role = 'active';
    state.session = session;
    state.stalled = false;
    this.heartbeat.reset();
    const monitor = new SessionMonitor(
      {
        config,
        log,
        state,
        metrics: ops.metrics,
        heartbeat: this.heartbeat,
        withSql: (fn) => this.withSql(fn),
        probeKafka: () => this.delivery.probe(KAFKA_PROBE_TIMEOUT_MS),
        interrupt: (interrupt) => this.interrupt(interrupt),
      },
      session,
    );
    active.monitor = timers.monitor = monitor;
    monitor.start();
    return active;
  }

  private warnNoPosition(): void {
    this.slotExisted = false; // once per start is enough
    this.log.warn(
      { slot: this.config.slotName, positionTopic: this.config.positionTopic },
      "exactly-once: the position topic has no position for this slot although the slot existed before this start (was the position topic deleted, or POSITION_TOPIC or KAFKA_TRANSACTIONAL_ID changed?); events after the slot's confirmed position are published as new: any of them already on Kafka from before is seen a second time",
    );
  }

  /** Turns the session's and the stream's ends into interrupts for the loop. */
  private watchStream(stream: ReplicationStream, session: StreamSession): void {
    session.onFailure((error) =>
      this.interrupt({ kind: error.retriable ? 'session' : 'fatal', error }),
    );
    stream.finished.then(
      () =>
        this.interrupt({
          kind: 'session',
          error: new RelayError('REPLICATION_LOST', 'the server ended the replication stream', {
            retriable: true,
          }),
        }),
      (error: unknown) =>
        this.interrupt({
          kind: isRelayError(error) && !error.retriable ? 'fatal' : 'session',
          error: isRelayError(error)
            ? error
            : new RelayError('REPLICATION_LOST', describeError(error), {
                retriable: true,
                cause: error,
              }),
        }),
    );
  }

  /** A stop drains and returns; a failure first publishes what was read (if it can), then throws. */
  private async endOnInterrupt(interrupt: Interrupt, active: ActiveSession): Promise<void> {
    if (interrupt.kind === 'stop') return this.drain(active);
    if (interrupt.kind === 'fatal' && active.sink?.isStopped === false) {
      // Publish (and confirm) what was read before the failure, so a restart repeats as little
      // as possible; nothing after it is confirmed.
      await this.drain(active).catch((err: unknown) =>
        this.log.warn(
          { err: describeError(err) },
          'could not finish in-flight events before exiting',
        ),
      );
    }
    throw interrupt.error;
  }

  /**
   * What to do after a session failed: 'stopped' (we are stopping anyway), 'standby' (another
   * instance holds the slot), or the error to retry with backoff. Throws what must end the relay.
   */
  private afterError(err: unknown): 'stopped' | 'standby' | RelayError {
    // While stopping, errors of the torn-down session are expected; a drain that timed out is
    // not: it must reach the exit code.
    if (this.stopping) {
      if (isRelayError(err, 'SHUTDOWN_TIMEOUT') || isRelayError(err, 'SHUTDOWN_INCOMPLETE'))
        throw err;
      return 'stopped';
    }
    let error = isRelayError(err)
      ? err
      : new RelayError('REPLICATION_LOST', describeError(err), { retriable: true, cause: err });
    if (
      error.retriable &&
      !this.streamedOnce &&
      Date.now() >= this.startupDeadline &&
      error.code.startsWith('KAFKA_')
    ) {
      // Kafka never let a first session start (e.g. transactions that cannot initialise): say so
      // instead of retrying in silence.
      error = new RelayError(
        error.code,
        `${error.message} (start-up gave up after STARTUP_TIMEOUT_MS=${this.config.startupTimeoutMs} ms)`,
        { cause: error.cause, context: error.context },
      );
    }
    if (!error.retriable) {
      this.ops.error(error);
      throw error;
    }
    if (error.code === 'SLOT_IN_USE') {
      this.ops.state.role = 'standby';
      return 'standby';
    }
    return error;
  }

  private async backoff(error: RelayError, attempt: number): Promise<void> {
    this.ops.error(error, 'replication_reconnect');
    this.ops.metrics.reconnects.inc();
    const delayMs = backoffDelay(attempt, this.config.retryInitialMs, this.config.retryMaxMs);
    this.log.warn(
      { code: error.code, attempt, delayMs },
      `${error.message}; reconnecting and resuming from the slot's confirmed position`,
    );
    await sleep(delayMs, this.stopSignal.signal);
  }

  /** Ends a session: timers, late acknowledgements, the sink's unsent work, the stream. */
  private async closeSession(active: ActiveSession | undefined): Promise<void> {
    if (active === undefined) return;
    const { session, stream, sink, monitor } = active;
    monitor?.stop();
    const { state } = this.ops;
    state.lastConfirmedLsn = session.confirmed;
    if (state.session === session) state.session = undefined;
    session.end();
    if (sink !== undefined) await this.delivery.closeSession();
    await stream?.close();
    this.interrupts.clear();
  }

  /** Shutdown: stop reading, wait (bounded) for Kafka to acknowledge what is in flight, confirm. */
  private async drain({ session, sink }: ActiveSession): Promise<void> {
    session.stopReading();
    const pending = session.inFlight.events;
    this.log.info(
      { inFlight: pending, timeoutMs: this.config.shutdownTimeoutMs },
      'stopping: waiting for in-flight events',
    );
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      (sink?.whenIdle() ?? Promise.resolve()).then(() => true),
      new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(false), this.config.shutdownTimeoutMs)),
      ),
    ]);
    clearTimeout(timer);
    session.sendStatus(true);
    this.log.info({ confirmedLsn: formatLsn(session.confirmed) }, 'final position confirmed');
    if (drained && sink?.isStopped === true && session.inFlight.events > 0) {
      // The sink gave up (a failed Kafka commit, a fatal send error) instead of draining.
      throw new RelayError(
        'SHUTDOWN_INCOMPLETE',
        `shutdown could not publish ${session.inFlight.events} events: Kafka failed while stopping (see the error above); they were not confirmed and will be published again on the next start`,
      );
    }
    if (!drained) {
      throw new RelayError(
        'SHUTDOWN_TIMEOUT',
        `shutdown timed out after ${this.config.shutdownTimeoutMs} ms with ${session.inFlight.events} events not acknowledged by Kafka; they were not confirmed and will be published again on the next start`,
      );
    }
  }

  private interrupt(interrupt: Interrupt): void {
    this.interrupts.push(interrupt);
  }

  private preflight(createSlot: boolean): Promise<SlotState> {
    return this.withSql((sql) =>
      preflight(
        sql,
        preflightOptions(this.config, createSlot),
        this.log.child({ module: 'preflight' }),
      ),
    );
  }

  private withSql<T>(fn: (sql: Client) => Promise<T>): Promise<T> {
    return withDatabase(this.config.databaseUrl, fn);
  }

  /** Start-up: retries retriable failures until the deadline, then fails with the last error. */
  private async retryUntil<T>(
    deadline: number,
    what: string,
    fn: () => Promise<T>,
  ): Promise<T | undefined> {
    const asRelayError = (err: unknown) =>
      isRelayError(err)
        ? err
        : new RelayError(what === 'Kafka' ? 'KAFKA_SEND' : 'PG_UNREACHABLE', describeError(err), {
            cause: err,
          });
    try {
      return await retryUntil(fn, {
        deadline,
        initialMs: this.config.retryInitialMs,
        maxMs: this.config.retryMaxMs,
        signal: this.stopSignal.signal,
        retriable: (err) => asRelayError(err).retriable,
        onRetry: (err, attempt, delayMs) => {
          const error = asRelayError(err);
          this.ops.error(error, 'startup');
          this.log.warn(
            { code: error.code, attempt, delayMs },
            `${what} not ready at start-up: ${error.message}; retrying`,
          );
        },
      });
    } catch (err) {
      const error = asRelayError(err);
      this.ops.error(error);
      throw error;
    }
  }
}
