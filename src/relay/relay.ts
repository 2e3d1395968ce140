import type { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import type { AvroSchemas } from '../kafka/avro';
import type { Logger } from 'pino';
import type { Config } from '../config/load';
import { describeError, isRelayError, RelayError } from '../errors';
import type { KafkaPublisher } from '../kafka/publisher';
import { formatLsn } from '../replication/lsn';
import { preflight } from '../replication/preflight';
import { ReplicationStream } from '../replication/replication-stream';
import { backoffDelay, retryUntil, sleep } from '../retry/backoff';
import { withDatabase } from './database';
import { outboxLayout, preflightOptions, recordMapper } from './wiring';
import { KafkaConnection } from './kafka-connection';
import { Interrupts, type Interrupt } from './interrupts';
import { StreamSession, type EventToken } from './session';
import { SessionMonitor } from './session-monitor';
import { Heartbeat } from '../ops/heartbeat';
import type { RelayOps } from '../ops/relay-ops';

/** How long the Kafka probe behind readiness waits for a metadata answer. */
const KAFKA_PROBE_TIMEOUT_MS = 5_000;

/**
 * The relay's lifecycle: start-up checks, one streaming session at a time (reconnecting with
 * backoff, waiting as a standby while another instance holds the slot), and graceful shutdown.
 */
export class Relay {
  private stopping = false;
  private readonly stopSignal = new AbortController();
  private readonly interrupts = new Interrupts();
  private readonly kafkaConnection: KafkaConnection;
  private readonly heartbeat: Heartbeat;

  constructor(
    private readonly config: Config,
    kafka: Kafka,
    private readonly log: Logger,
    private readonly ops: RelayOps,
    private readonly avroSchemas?: AvroSchemas,
  ) {
    this.kafkaConnection = new KafkaConnection(kafka, config);
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
    const deadline = Date.now() + this.config.startupTimeoutMs;
    const slot = await this.retryUntil(deadline, 'PostgreSQL', () =>
      this.withSql((sql) =>
        preflight(
          sql,
          preflightOptions(this.config, true),
          this.log.child({ module: 'preflight' }),
        ),
      ),
    );
    if (slot === undefined) return;
    this.log.info(
      {
        slot: this.config.slotName,
        publication: this.config.publicationName,
        confirmedLsn: formatLsn(slot.confirmedFlushLsn),
      },
      'preflight passed',
    );
    const connected = await this.retryUntil(deadline, 'Kafka', () => this.connectKafka()).catch(
      async (err: unknown) => {
        // A half-open producer keeps sockets (and the process) alive: close it before failing.
        await this.disconnectKafka();
        throw err;
      },
    );
    if (connected === undefined) return this.disconnectKafka();
    this.ops.state.kafkaReachable = true;
    const publisher = this.kafkaConnection.publisher<EventToken>(
      {
        onAcked: (tokens) => {
          this.ops.acked(tokens);
          // Acknowledgements go to the session that read the events; one that ended ignores them.
          let start = 0;
          for (let i = 1; i <= tokens.length; i++) {
            if (i === tokens.length || tokens[i]!.session !== tokens[start]!.session) {
              tokens[start]!.session.acked(tokens.slice(start, i));
              start = i;
            }
          }
        },
        onFatal: (error) => this.interrupt({ kind: 'fatal', error }),
        onRetry: (error) => this.ops.error(error, 'kafka_send'),
      },
      this.log,
    );
    this.ops.state.kafkaFailing = () => publisher.isFailing;
    try {
      await this.streamUntilStopped(publisher);
    } finally {
      publisher.stop();
      await this.disconnectKafka();
    }
  }

  private async streamUntilStopped(publisher: KafkaPublisher<EventToken>): Promise<void> {
    const records = recordMapper(this.config, this.avroSchemas);
    let attempt = 0;
    let standby = false;
    const { state } = this.ops;
    while (!this.stopping) {
      let session: StreamSession | undefined;
      let stream: ReplicationStream | undefined;
      let monitor: SessionMonitor | undefined;
      try {
        const slot = await this.withSql((sql) =>
          preflight(
            sql,
            preflightOptions(this.config, false),
            this.log.child({ module: 'preflight' }),
          ),
        );
        const log = this.log.child({ module: 'stream' });
        session = new StreamSession(
          slot.confirmedFlushLsn,
          {
            table: this.config.outboxTable,
            layout: outboxLayout(this.config),
            maxInFlightEvents: this.config.maxInFlightEvents,
            maxInFlightBytes: this.config.maxInFlightBytes,
            onInvalidEvent: this.config.onInvalidEvent,
            deadLetterTopic: this.config.deadLetterTopic,
            maxRecordBytes: this.config.kafkaMaxRecordBytes,
            messagePrefix: this.config.messagePrefix,
            onHeartbeat: (content) => monitor?.onHeartbeat(content),
            onDeadLetter: (reason) => this.ops.metrics.deadLetters.inc({ reason }),
          },
          records,
          publisher,
          log,
        );
        const current = session;
        stream = await ReplicationStream.start(
          {
            databaseUrl: this.config.databaseUrl,
            slotName: this.config.slotName,
            publicationName: this.config.publicationName,
            messages: true,
          },
          current,
          log,
        );
        current.sendStatus(true);
        current.onFailure((error) =>
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
        this.log.info(
          {
            slot: this.config.slotName,
            publication: this.config.publicationName,
            startLsn: formatLsn(slot.confirmedFlushLsn),
            tookOver: standby,
          },
          standby ? 'slot is free: this instance is now active and streaming' : 'streaming',
        );
        standby = false;
        attempt = 0;
        state.role = 'active';
        state.session = current;
        state.stalled = false;
        this.heartbeat.reset();
        monitor = new SessionMonitor(
          {
            config: this.config,
            log,
            state,
            metrics: this.ops.metrics,
            heartbeat: this.heartbeat,
            withSql: (fn) => this.withSql(fn),
            probeKafka: () => this.kafkaConnection.probe(KAFKA_PROBE_TIMEOUT_MS),
            interrupt: (interrupt) => this.interrupt(interrupt),
          },
          current,
        );
        monitor.start();

        const interrupt = this.stopping
          ? ({ kind: 'stop' } as const)
          : await this.interrupts.next();
        if (interrupt.kind === 'stop') {
          await this.drain(current, publisher);
          return;
        }
        if (interrupt.kind === 'fatal' && !publisher.isStopped) {
          // Publish (and confirm) what was read before the failure, so a restart repeats as little
          // as possible; nothing after it is confirmed.
          await this.drain(current, publisher).catch((err: unknown) =>
            this.log.warn(
              { err: describeError(err) },
              'could not finish in-flight events before exiting',
            ),
          );
        }
        throw interrupt.error;
      } catch (err) {
        // While stopping, errors of the torn-down session are expected; a drain that timed out is
        // not: it must reach the exit code.
        if (this.stopping) {
          if (isRelayError(err, 'SHUTDOWN_TIMEOUT')) throw err;
          return;
        }
        const error = isRelayError(err)
          ? err
          : new RelayError('REPLICATION_LOST', describeError(err), { retriable: true, cause: err });
        if (!error.retriable) {
          this.ops.error(error);
          throw error;
        }
        if (error.code === 'SLOT_IN_USE') {
          state.role = 'standby';
          if (!standby)
            this.log.info(
              { slot: this.config.slotName, retryMs: this.config.slotRetryIntervalMs },
              `${error.message}; waiting as a standby`,
            );
          standby = true;
          await sleep(this.config.slotRetryIntervalMs, this.stopSignal.signal);
          continue;
        }
        attempt++;
        this.ops.error(error, 'replication_reconnect');
        this.ops.metrics.reconnects.inc();
        const delayMs = backoffDelay(attempt, this.config.retryInitialMs, this.config.retryMaxMs);
        // Queued events of the ended session are read again by the next one.
        const dropped = publisher.discardQueued();
        this.log.warn(
          { code: error.code, attempt, delayMs, dropped },
          `${error.message}; reconnecting and resuming from the slot's confirmed position`,
        );
        await sleep(delayMs, this.stopSignal.signal);
      } finally {
        monitor?.stop();
        if (session !== undefined) state.lastConfirmedLsn = session.confirmed;
        state.session = undefined;
        session?.end();
        await stream?.close();
        this.interrupts.clear();
      }
    }
  }

  /** Shutdown: stop reading, wait (bounded) for Kafka to acknowledge what is in flight, confirm. */
  private async drain(
    session: StreamSession,
    publisher: KafkaPublisher<EventToken>,
  ): Promise<void> {
    session.stopReading();
    const pending = session.inFlight.events;
    this.log.info(
      { inFlight: pending, timeoutMs: this.config.shutdownTimeoutMs },
      'stopping: waiting for in-flight events',
    );
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      publisher.whenIdle().then(() => true),
      new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(false), this.config.shutdownTimeoutMs)),
      ),
    ]);
    clearTimeout(timer);
    session.sendStatus(true);
    this.log.info({ confirmedLsn: formatLsn(session.confirmed) }, 'final position confirmed');
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

  private withSql<T>(fn: (sql: Client) => Promise<T>): Promise<T> {
    return withDatabase(this.config.databaseUrl, fn);
  }

  private async connectKafka(): Promise<true> {
    await this.kafkaConnection.connect();
    return true;
  }

  private disconnectKafka(): Promise<void> {
    return this.kafkaConnection.disconnect();
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
        : new RelayError('PG_UNREACHABLE', describeError(err), { cause: err });
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
