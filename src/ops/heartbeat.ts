import { randomUUID } from 'node:crypto';

/** Prefix of the relay's heartbeat messages (non-transactional logical decoding messages). */
export const HEARTBEAT_PREFIX = 'outbox-relay.heartbeat';

/** Heartbeats not yet back that are remembered; older ones are forgotten. */
const MAX_PENDING = 64;

/**
 * Heartbeat bookkeeping: what was sent when, and the round trip of what came back. A heartbeat
 * names the slot and this process, so relays on other slots of the same database (which see the
 * same messages) and earlier processes are not mistaken for this one.
 */
export class Heartbeat {
  private seq = 0;
  private readonly pending = new Map<string, number>();
  private readonly instance = randomUUID().slice(0, 8);

  constructor(private readonly slot: string) {}

  /** The content of the next heartbeat, remembered as sent at `now`. */
  next(now: number): string {
    const content = `${this.slot}/${this.instance}/${++this.seq}`;
    this.pending.set(content, now);
    if (this.pending.size > MAX_PENDING) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    return content;
  }

  /**
   * A heartbeat message read from the stream: the round trip in ms if it is one of ours (earlier
   * ones still pending are settled too: the stream is ordered), else undefined.
   */
  received(content: string, now: number): number | undefined {
    const sentAt = this.pending.get(content);
    if (sentAt === undefined) return undefined;
    for (const key of [...this.pending.keys()]) {
      this.pending.delete(key);
      if (key === content) break;
    }
    return now - sentAt;
  }

  /** A heartbeat that was never written (the SQL failed): nothing to wait for. */
  cancel(content: string): void {
    this.pending.delete(content);
  }

  /** When the oldest heartbeat still on its way was sent, if any. */
  get outstandingSince(): number | undefined {
    return this.pending.values().next().value;
  }

  /** A new stream: heartbeats sent to the old one will never come back through it. */
  reset(): void {
    this.pending.clear();
  }
}
