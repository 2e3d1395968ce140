import type { Lsn } from '../replication/lsn';

export type Role = 'starting' | 'active' | 'standby' | 'stopping';

/** The slot as the server sees it, sampled with each heartbeat. */
export interface SlotSample {
  /** Server WAL position minus the slot's confirmed_flush_lsn. */
  lagBytes: number;
  /** Server WAL position minus the slot's restart_lsn: WAL the server keeps for the relay. */
  retainedBytes: number;
  /** pg_replication_slots.wal_status (reserved, extended, unreserved, lost). */
  walStatus: string | null;
  /** Bytes that can still be written before the slot is in danger of losing WAL (null: unlimited). */
  safeWalBytes: number | null;
  at: number;
}

export interface LastError {
  code: string;
  message: string;
  at: number;
}

/** What the active session exposes to health reporting. */
export interface SessionView {
  readonly confirmed: Lsn;
  readonly inFlight: { events: number; bytes: number };
}

/** A lost slot found at start-up: what was last published, where the new slot starts. */
export interface SlotGapView {
  lastPublishedLsn: string;
  lastPublishedCommitTime: string | null;
  newSlotLsn: string;
  action: 'fail' | 'replay' | 'warn';
  /** ON_SLOT_GAP=replay re-published the rows of the gap. */
  repaired: boolean;
}

/**
 * The relay's observable state: written by the relay as things happen, read by `/readyz`, `/`
 * and the metrics. It holds no logic beyond deciding readiness.
 */
export class RelayState {
  role: Role = 'starting';
  /** DELIVERY_GUARANTEE, as configured. */
  delivery: 'at-least-once' | 'exactly-once' = 'at-least-once';
  /** `fast`: kafkajs runs the relay's produce path (kafka/fast-path); `kafkajs`: its own. */
  producePath: 'fast' | 'kafkajs' = 'kafkajs';
  session: SessionView | undefined;
  /** Confirmed position of the last session (kept across reconnects). */
  lastConfirmedLsn: Lsn | undefined;
  /** Kafka answered the last metadata probe (or a send succeeded since). */
  kafkaReachable = false;
  /** Sends are failing and being retried. */
  kafkaFailing: () => boolean = () => false;
  /** A heartbeat did not come back and the stream went silent. */
  stalled = false;
  slot: SlotSample | undefined;
  /** Commit time (ms) of the newest event Kafka acknowledged. */
  lastEventCommitMs: number | undefined;
  /** When the newest acknowledgement arrived (ms). */
  lastAckAt: number | undefined;
  eventsPublished = 0;
  heartbeatRttMs: number | undefined;
  lastHeartbeatAt: number | undefined;
  lastError: LastError | undefined;
  walRetentionWarning = false;
  /** The slot was lost since the last published position (ON_SLOT_GAP). */
  slotGap: SlotGapView | undefined;
  readonly startedAt = Date.now();

  constructor(
    readonly slotName: string,
    readonly publicationName: string,
  ) {}

  /** The position confirmed to PostgreSQL, live while a session streams. */
  get confirmedLsn(): Lsn | undefined {
    return this.session?.confirmed ?? this.lastConfirmedLsn;
  }

  recordError(code: string, message: string): void {
    this.lastError = { code, message, at: Date.now() };
  }

  /** Ready: streaming, Kafka reachable and accepting sends, and no stall. */
  readiness(): { ready: boolean; reason: string } {
    if (this.role === 'standby')
      return {
        ready: false,
        reason: `standby: slot ${this.slotName} is held by another instance; this one takes over when it is free`,
      };
    if (this.role === 'starting') return { ready: false, reason: 'starting' };
    if (this.role === 'stopping') return { ready: false, reason: 'stopping' };
    if (this.session === undefined) return { ready: false, reason: 'reconnecting to PostgreSQL' };
    if (this.stalled)
      return { ready: false, reason: 'replication stream stalled (heartbeat did not come back)' };
    if (!this.kafkaReachable || this.kafkaFailing())
      return { ready: false, reason: 'Kafka unreachable or rejecting sends; retrying' };
    if (this.slotGap !== undefined && !this.slotGap.repaired)
      return {
        ready: true,
        reason: `streaming; events committed between ${this.slotGap.lastPublishedLsn} and ${this.slotGap.newSlotLsn} were never published (slot gap, ON_SLOT_GAP=${this.slotGap.action})`,
      };
    return { ready: true, reason: 'streaming' };
  }
}
