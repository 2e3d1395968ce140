import type { Client } from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/load';
import { describeError, RelayError } from '../errors';
import { HEARTBEAT_PREFIX, type Heartbeat } from '../ops/heartbeat';
import type { RelayMetrics } from '../ops/metrics';
import type { RelayState } from '../ops/state';
import { formatLsn } from '../replication/lsn';
import type { Interrupt } from './interrupts';
import type { StreamSession } from './session';
import { checkSource, emitHeartbeat, sampleSlot } from './source-check';

/** Progress line at info level, so an operator sees the relay moving without trace logs. */
const PROGRESS_LOG_INTERVAL_MS = 60_000;
/** How often the relay checks that its table, slot and role are still usable. */
const SOURCE_CHECK_INTERVAL_MS = 15_000;
/** While the slot retains too much WAL, the warning is repeated this often. */
const RETENTION_WARN_REPEAT_MS = 5 * 60_000;

export interface MonitorDeps {
  config: Config;
  log: Logger;
  state: RelayState;
  metrics: RelayMetrics;
  heartbeat: Heartbeat;
  withSql<T>(fn: (sql: Client) => Promise<T>): Promise<T>;
  /** Asks Kafka for metadata: true if a broker answered. */
  probeKafka(): Promise<boolean>;
  interrupt(interrupt: Interrupt): void;
}

/**
 * Everything a streaming session does on a timer: standby status updates, heartbeats and stall
 * detection, slot lag and WAL retention, the Kafka probe behind readiness, the source check and
 * the progress log. Started when a session streams, stopped when it ends.
 */
export class SessionMonitor {
  private readonly timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private pausedSeenAt = 0;
  private retentionWarnedAt = 0;

  constructor(
    private readonly deps: MonitorDeps,
    private readonly session: StreamSession,
  ) {}

  start(): void {
    const { config } = this.deps;
    const every = (ms: number, fn: () => void) => this.timers.push(setInterval(fn, ms));
    every(config.standbyStatusIntervalMs, () => this.session.sendStatus(true));
    every(PROGRESS_LOG_INTERVAL_MS, () => this.logProgress());
    every(SOURCE_CHECK_INTERVAL_MS, () => void this.checkSource());
    every(config.heartbeatIntervalMs, () => void this.tick());
    void this.tick();
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }

  /** A heartbeat message came back through the stream. */
  onHeartbeat(content: string): void {
    const now = Date.now();
    const rtt = this.deps.heartbeat.received(content, now);
    if (rtt === undefined) return;
    this.deps.state.heartbeatRttMs = rtt;
    this.deps.state.lastHeartbeatAt = now;
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.timers.length === 0) return;
    this.ticking = true;
    try {
      this.checkStall(Date.now());
      await Promise.all([this.sampleAndBeat(), this.probeKafka()]);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * A stall: a heartbeat is overdue and the stream has said nothing at all for
   * HEARTBEAT_TIMEOUT_MS while not paused for back-pressure, even though the relay asked the
   * server for an immediate reply. A live walsender answers that request even in the middle of
   * decoding a long transaction, so only a dead or hung connection stays silent.
   */
  private checkStall(now: number): void {
    const { config, heartbeat, state, log, metrics } = this.deps;
    if (this.session.isPaused) this.pausedSeenAt = now;
    const since = heartbeat.outstandingSince;
    if (since === undefined || state.stalled) return;
    const silentMs = now - Math.max(this.session.lastReceivedAt, this.pausedSeenAt);
    if (now - since < config.heartbeatTimeoutMs / 2) return;
    if (silentMs < config.heartbeatTimeoutMs || now - since < config.heartbeatTimeoutMs) {
      this.session.requestReply();
      return;
    }
    state.stalled = true;
    metrics.stalls.inc();
    const error = new RelayError(
      'REPLICATION_STALLED',
      `replication stream stalled: no heartbeat back for ${now - since} ms and nothing received for ${silentMs} ms`,
      { retriable: true, context: { slot: config.slotName } },
    );
    log.error(
      { code: error.code, confirmedLsn: formatLsn(this.session.confirmed) },
      `${error.message}; reconnecting`,
    );
    this.deps.interrupt({ kind: 'reconnect', error });
  }

  private async sampleAndBeat(): Promise<void> {
    const { config, heartbeat, state, log } = this.deps;
    let content: string | undefined;
    try {
      await this.deps.withSql(async (sql) => {
        const sample = await sampleSlot(sql, config.slotName);
        if (sample !== undefined) {
          state.slot = sample;
          this.checkRetention(sample.retainedBytes, sample.walStatus, sample.safeWalBytes);
        }
        content = heartbeat.next(Date.now());
        await emitHeartbeat(sql, HEARTBEAT_PREFIX, content);
      });
    } catch (err) {
      if (content !== undefined) heartbeat.cancel(content);
      log.debug({ err: describeError(err) }, 'heartbeat skipped');
    }
  }

  private checkRetention(retained: number, walStatus: string | null, safe: number | null): void {
    const { config, state, log } = this.deps;
    const now = Date.now();
    if (retained > config.walRetentionWarnBytes) {
      if (!state.walRetentionWarning || now - this.retentionWarnedAt >= RETENTION_WARN_REPEAT_MS) {
        log.warn(
          {
            slot: config.slotName,
            retainedWalBytes: retained,
            thresholdBytes: config.walRetentionWarnBytes,
            walStatus,
            safeWalBytes: safe,
          },
          'the replication slot retains more WAL than WAL_RETENTION_WARN_BYTES: the relay is behind or stopped consuming; the server keeps this WAL on disk until the slot confirms it',
        );
        this.retentionWarnedAt = now;
      }
      state.walRetentionWarning = true;
    } else if (state.walRetentionWarning) {
      state.walRetentionWarning = false;
      log.info(
        { slot: config.slotName, retainedWalBytes: retained },
        'slot WAL retention is back under the threshold',
      );
    }
  }

  private async probeKafka(): Promise<void> {
    const { state, log } = this.deps;
    const reachable = await this.deps.probeKafka();
    if (reachable !== state.kafkaReachable) {
      if (reachable) log.info('Kafka answers again');
      else log.warn('Kafka does not answer a metadata request; not ready until it does');
    }
    state.kafkaReachable = reachable;
  }

  private async checkSource(): Promise<void> {
    try {
      const problem = await this.deps.withSql((sql) => checkSource(sql, this.deps.config));
      if (problem !== undefined) this.deps.interrupt({ kind: 'fatal', error: problem });
    } catch (err) {
      // The database being unreachable is the stream's business (it reconnects); only log here.
      this.deps.log.debug({ err: describeError(err) }, 'source check skipped');
    }
  }

  private logProgress(): void {
    this.deps.log.info(
      {
        confirmedLsn: formatLsn(this.session.confirmed),
        eventsRead: this.session.eventsRead,
        eventsSkipped: this.session.eventsSkipped,
        inFlight: this.session.inFlight,
      },
      'progress',
    );
  }
}
