import type { RelayError } from '../errors';
import type { RelayMetrics } from './metrics';
import type { RelayState } from './state';

/** An acknowledged event, as far as reporting cares. */
export interface AckedEvent {
  topic: string;
  /** Commit time of the event's transaction, ms since the epoch. */
  commitTimeMs: number;
}

/**
 * Where the relay reports what it does: the state behind `/readyz` and `/`, and the metrics. The
 * relay calls these as things happen; nothing here feeds back into the data path.
 */
export class RelayOps {
  constructor(
    readonly state: RelayState,
    readonly metrics: RelayMetrics,
  ) {}

  /** Events Kafka acknowledged: per topic, latency from commit, newest commit time. */
  acked(events: readonly AckedEvent[]): void {
    const { metrics, state } = this;
    const now = Date.now();
    const perTopic = new Map<string, number>();
    let newest = state.lastEventCommitMs ?? 0;
    for (const event of events) {
      perTopic.set(event.topic, (perTopic.get(event.topic) ?? 0) + 1);
      metrics.latency.observe(Math.max(now - event.commitTimeMs, 0) / 1000);
      if (event.commitTimeMs > newest) newest = event.commitTimeMs;
    }
    for (const [topic, count] of perTopic) metrics.eventsPublished.inc({ topic }, count);
    state.eventsPublished += events.length;
    state.lastEventCommitMs = newest;
    state.lastAckAt = now;
  }

  /** An error met (and retried, when `retry` names the kind): metrics and the status page. */
  error(error: RelayError, retry?: string): void {
    this.metrics.errors.inc({ code: error.code });
    if (retry !== undefined) this.metrics.retries.inc({ kind: retry });
    this.state.recordError(error.code, error.message);
  }
}
