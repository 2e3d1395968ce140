import { RelayError } from '../../../src/errors';
import { afterSessionFailure, type FailureContext } from '../../../src/relay/failure-policy';

const running: FailureContext = {
  stopping: false,
  streamedOnce: true,
  pastStartupDeadline: true,
  startupTimeoutMs: 60_000,
};
const stopping: FailureContext = { ...running, stopping: true };
const neverStreamed: FailureContext = { ...running, streamedOnce: false };

const retriable = (code: RelayError['code']) =>
  new RelayError(code, `${code} happened`, { retriable: true });

describe('afterSessionFailure', () => {
  it("retries an error that is not the relay's own as a lost replication connection", () => {
    const outcome = afterSessionFailure(new Error('socket hang up'), running);
    expect(outcome.next).toBe('retry');
    const { error } = outcome as { error: RelayError };
    expect(error.code).toBe('REPLICATION_LOST');
    expect(error.retriable).toBe(true);
  });

  it('retries a retriable relay error as it is', () => {
    const failure = retriable('KAFKA_SEND');
    expect(afterSessionFailure(failure, running)).toEqual({ next: 'retry', error: failure });
  });

  it('waits as a standby while another instance holds the slot', () => {
    expect(afterSessionFailure(retriable('SLOT_IN_USE'), running)).toEqual({ next: 'standby' });
    expect(afterSessionFailure(retriable('SLOT_IN_USE'), neverStreamed)).toEqual({
      next: 'standby',
    });
  });

  it('ends the relay on an error retrying cannot fix, and reports it', () => {
    const failure = new RelayError('SLOT_DROPPED', 'gone');
    expect(afterSessionFailure(failure, running)).toEqual({
      next: 'exit',
      error: failure,
      report: true,
    });
  });

  it('ends the relay, naming the start-up timeout, when Kafka kept every session from starting', () => {
    const outcome = afterSessionFailure(retriable('KAFKA_TRANSACTION'), neverStreamed);
    expect(outcome).toMatchObject({ next: 'exit', report: true });
    const { error } = outcome as { error: RelayError };
    expect(error.code).toBe('KAFKA_TRANSACTION');
    expect(error.retriable).toBe(false);
    expect(error.message).toBe(
      'KAFKA_TRANSACTION happened (start-up gave up after STARTUP_TIMEOUT_MS=60000 ms)',
    );
  });

  it('keeps retrying Kafka before the start-up deadline, after a first session, and for PostgreSQL', () => {
    for (const [failure, context] of [
      [retriable('KAFKA_TRANSACTION'), { ...neverStreamed, pastStartupDeadline: false }],
      [retriable('KAFKA_TRANSACTION'), running],
      [retriable('PG_UNREACHABLE'), neverStreamed],
    ] as const)
      expect(afterSessionFailure(failure, context)).toEqual({ next: 'retry', error: failure });
  });

  it('while stopping, treats retriable and foreign errors as the teardown and ends on fatal ones', () => {
    expect(afterSessionFailure(retriable('REPLICATION_LOST'), stopping)).toEqual({
      next: 'stopped',
    });
    expect(afterSessionFailure(new Error('socket closed'), stopping)).toEqual({ next: 'stopped' });
    const fatal = new RelayError('KAFKA_AUTHORIZATION', 'denied');
    expect(afterSessionFailure(fatal, stopping)).toEqual({
      next: 'exit',
      error: fatal,
      report: true,
    });
  });

  it('while stopping, ends on a drain that did not finish without reporting it a second time', () => {
    for (const code of ['SHUTDOWN_TIMEOUT', 'SHUTDOWN_INCOMPLETE'] as const) {
      const failure = new RelayError(code, 'drain did not finish');
      expect(afterSessionFailure(failure, stopping)).toEqual({
        next: 'exit',
        error: failure,
        report: false,
      });
    }
  });
});
