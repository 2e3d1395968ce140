import { isRelayError, RelayError, toRelayError } from '../errors';

/** Where the relay stands when a session fails. */
export interface FailureContext {
  /** A stop was requested: the session was being torn down anyway. */
  stopping: boolean;
  /** A session has streamed since the relay started. */
  streamedOnce: boolean;
  /** STARTUP_TIMEOUT_MS has passed since the relay started. */
  pastStartupDeadline: boolean;
  startupTimeoutMs: number;
}

/** What the relay does next after a session failed. */
export type FailureOutcome =
  /** It was stopping: the failure is the teardown's, nothing more to do. */
  | { next: 'stopped' }
  /** Another instance holds the slot: wait as a standby. */
  | { next: 'standby' }
  /** Reconnect with backoff. */
  | { next: 'retry'; error: RelayError }
  /** End the relay with this error (counted in the error metric when `report`). */
  | { next: 'exit'; error: RelayError; report: boolean };

/**
 * The relay's policy after a failed session, decided from the error and `context` alone.
 * While stopping, retriable errors of the torn-down session are expected; a fatal error or a
 * drain that did not finish is not and ends the relay (the shutdown errors are reported where
 * they are raised). Otherwise unknown errors count as a lost replication connection (retried), a
 * Kafka failure that kept every session from starting until STARTUP_TIMEOUT_MS ends the relay
 * saying so instead of retrying in silence, and a slot held elsewhere means standby.
 */
export function afterSessionFailure(err: unknown, context: FailureContext): FailureOutcome {
  if (context.stopping) {
    if (!isRelayError(err) || err.retriable) return { next: 'stopped' };
    const raisedByShutdown =
      isRelayError(err, 'SHUTDOWN_TIMEOUT') || isRelayError(err, 'SHUTDOWN_INCOMPLETE');
    return { next: 'exit', error: err, report: !raisedByShutdown };
  }
  const error = toRelayError(err, 'REPLICATION_LOST', { retriable: true });
  if (
    error.retriable &&
    !context.streamedOnce &&
    context.pastStartupDeadline &&
    error.code.startsWith('KAFKA_')
  ) {
    const gaveUp = new RelayError(
      error.code,
      `${error.message} (start-up gave up after STARTUP_TIMEOUT_MS=${context.startupTimeoutMs} ms)`,
      { cause: error.cause, context: error.context },
    );
    return { next: 'exit', error: gaveUp, report: true };
  }
  if (!error.retriable) return { next: 'exit', error, report: true };
  if (error.code === 'SLOT_IN_USE') return { next: 'standby' };
  return { next: 'retry', error };
}
