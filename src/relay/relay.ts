import type { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaLogTap } from '../logger';
import type { Config } from '../config/load';
import { describeError, isRelayError, RelayError } from '../errors';
import { formatLsn } from '../replication/lsn';
import { backoffDelay, sleep } from '../retry/backoff';
import { withDatabase } from './database';
import { AtLeastOnceDelivery } from '../delivery/at-least-once';
import type { Delivery, DeliveryCallbacks } from '../delivery/delivery';
import { ExactlyOnceDelivery } from '../delivery/exactly-once';
import { Interrupts, type Interrupt } from './interrupts';
import type { EventToken } from './session';
import { ActiveSession } from './active-session';
import { afterSessionFailure } from './failure-policy';
import { checkSlot, retryAtStartup } from './startup';
import { SlotGuard } from './slot-gap';
import { Heartbeat } from '../ops/heartbeat';
import type { RelayOps } from '../ops/relay-ops';
import type { RecordMapper } from '../kafka/record-mapper';

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
  /** Start-up deadline: until a first session streams, Kafka-side failures end the relay then. */
  private startupDeadline = 0;
  private streamedOnce = false;
  /** The slot existed before this start: a missing exactly-once position is then worth a warning. */
  private slotExisted = false;

  constructor(
    private readonly config: Config,
    private readonly kafka: Kafka,
    private readonly log: Logger,
    private readonly ops: RelayOps,
    private readonly records: RecordMapper,
    kafkaLogs?: KafkaLogTap,
  ) {
    const callbacks: DeliveryCallbacks<EventToken> = {
      onAcked: (tokens) => this.acked(tokens),
      onFatal: (error) => this.interrupt({ kind: 'fatal', error }),
      onSessionFailed: (error) => this.interrupt({ kind: 'reconnect', error }),
      onRetry: (error) => this.ops.error(error, 'kafka_send'),
      onDeadLetter: (reason) => this.ops.metrics.deadLetters.inc({ reason }),
    };
    this.delivery =
      config.deliveryGuarantee === 'exactly-once'
        ? new ExactlyOnceDelivery(kafka, config, callbacks, ops.metrics, log, records, kafkaLogs)
        : new AtLeastOnceDelivery(kafka, config, callbacks, log, records);
    this.heartbeat = new Heartbeat(config.slotName);
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
    const slot = await this.retryAtStartup('PostgreSQL', () =>
      checkSlot(this.config, this.log, true),
    );
    if (slot === undefined) return;
    this.slotExisted = slot.created !== true;
    let guard: SlotGuard | undefined;
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
      const connected = await this.retryAtStartup('Kafka', () =>
        this.delivery.connect().then(() => true),
      );
      if (connected === undefined) return;
      this.ops.state.kafkaReachable = true;
      this.ops.state.kafkaFailing = () => this.delivery.isFailing;
      const formatReady = await this.retryAtStartup('Schema registry', () =>
        this.records.start().then(() => true),
      );
      if (formatReady === undefined) return;
      guard = await SlotGuard.open(
        {
          config: this.config,
          log: this.log,
          ops: this.ops,
          records: this.records,
          kafka: () => this.kafka,
          withSql: (fn) => this.withSql(fn),
          signal: this.stopSignal.signal,
        },
        this.delivery.guarantee,
        slot,
      );
      await this.streamUntilStopped();
      // A fatal error that arrived while no session was waiting (e.g. during a reconnect backoff
      // that a stop request cut short) still ends the relay as a failure.
      const fatal = this.interrupts.takeFatal();
      if (fatal !== undefined) {
        this.ops.error(fatal);
        throw fatal;
      }
    } finally {
      await slot.snapshot?.release();
      await guard?.close();
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
        // A stop request is pending (or replaced by a fatal error, which wins).
        const interrupt = await this.interrupts.next();
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

  /** Preflight, then a session that holds the slot and streams (see ActiveSession.open). */
  private async openSession(standby: boolean): Promise<ActiveSession> {
    const slot = await checkSlot(this.config, this.log, false);
    const active = await ActiveSession.open(
      {
        config: this.config,
        log: this.log,
        ops: this.ops,
        delivery: this.delivery,
        heartbeat: this.heartbeat,
        records: this.records,
        interrupt: (interrupt) => this.interrupt(interrupt),
        withSql: (fn) => this.withSql(fn),
        onDeliveryOpened: (published) => {
          if (
            this.delivery.guarantee === 'exactly-once' &&
            published === undefined &&
            this.slotExisted
          )
            this.warnNoPosition();
        },
      },
      slot,
      standby,
    );
    this.streamedOnce = true;
    return active;
  }

  private warnNoPosition(): void {
    this.slotExisted = false; // once per start is enough
    this.log.warn(
      { slot: this.config.slotName, positionTopic: this.config.positionTopic },
      "exactly-once: the position topic has no position for this slot although the slot existed before this start (was the position topic deleted, or POSITION_TOPIC or KAFKA_TRANSACTIONAL_ID changed?); events after the slot's confirmed position are published as new: any of them already on Kafka from before is seen a second time",
    );
  }

  /** A stop drains and returns; a failure first publishes what was read (if it can), then throws. */
  private async endOnInterrupt(interrupt: Interrupt, active: ActiveSession): Promise<void> {
    if (interrupt.kind === 'stop') {
      try {
        return await active.drain();
      } catch (err) {
        // The sink gave up while draining: its fatal error is the reason; log it and name it.
        const cause = this.interrupts.takeFatal();
        if (cause === undefined || !isRelayError(err, 'SHUTDOWN_INCOMPLETE')) throw err;
        this.ops.error(cause);
        this.log.error({ code: cause.code, ...cause.context }, cause.message);
        throw new RelayError('SHUTDOWN_INCOMPLETE', `${err.message} (${cause.code})`, {
          cause,
          context: cause.context,
        });
      }
    }
    if (interrupt.kind === 'fatal' && !active.sinkStopped) {
      // Publish (and confirm) what was read before the failure, so a restart repeats as little
      // as possible; nothing after it is confirmed.
      await active
        .drain()
        .catch((err: unknown) =>
          this.log.warn(
            { err: describeError(err) },
            'could not finish in-flight events before exiting',
          ),
        );
    }
    throw interrupt.error;
  }

  /** What to do after a session failed (see afterSessionFailure); throws what ends the relay. */
  private afterError(err: unknown): 'stopped' | 'standby' | RelayError {
    const outcome = afterSessionFailure(err, {
      stopping: this.stopping,
      streamedOnce: this.streamedOnce,
      pastStartupDeadline: Date.now() >= this.startupDeadline,
      startupTimeoutMs: this.config.startupTimeoutMs,
    });
    switch (outcome.next) {
      case 'exit':
        if (outcome.report) this.ops.error(outcome.error);
        throw outcome.error;
      case 'standby':
        this.ops.state.role = 'standby';
        return 'standby';
      case 'retry':
        return outcome.error;
      case 'stopped':
        return 'stopped';
    }
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

  private async closeSession(active: ActiveSession | undefined): Promise<void> {
    await active?.close();
    this.interrupts.clear();
  }

  private interrupt(interrupt: Interrupt): void {
    this.interrupts.push(interrupt);
  }

  private withSql<T>(fn: (sql: Client) => Promise<T>): Promise<T> {
    return withDatabase(this.config.databaseUrl, fn);
  }

  private retryAtStartup<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    return retryAtStartup(
      { config: this.config, log: this.log, ops: this.ops, signal: this.stopSignal.signal },
      this.startupDeadline,
      what,
      fn,
    );
  }
}
