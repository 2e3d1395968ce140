import { RelayError } from '../../../src/errors';
import { Interrupts } from '../../../src/relay/interrupts';

const lost = {
  kind: 'reconnect',
  error: new RelayError('REPLICATION_LOST', 'lost', { retriable: true }),
} as const;
const fatal = { kind: 'fatal', error: new RelayError('KAFKA_SEND', 'rejected') } as const;

describe('Interrupts', () => {
  it('canDeliverAnInterruptThatArrivedBeforeTheLoopWaited', async () => {
    const interrupts = new Interrupts();
    interrupts.push(lost);
    await expect(interrupts.next()).resolves.toBe(lost);
  });

  it('canWakeAWaitingLoop', async () => {
    const interrupts = new Interrupts();
    const next = interrupts.next();
    interrupts.push({ kind: 'stop' });
    await expect(next).resolves.toEqual({ kind: 'stop' });
  });

  it('lets a fatal error replace a pending lost stream, never the reverse', async () => {
    const interrupts = new Interrupts();
    interrupts.push(lost);
    interrupts.push(fatal);
    interrupts.push(lost);
    await expect(interrupts.next()).resolves.toBe(fatal);
  });

  it('keeps a fatal error that arrived between sessions, drops a stale lost stream', async () => {
    const interrupts = new Interrupts();
    interrupts.push(lost);
    interrupts.clear();
    interrupts.push(fatal);
    interrupts.clear();
    await expect(interrupts.next()).resolves.toBe(fatal);
  });

  it('lets a fatal error win over a later stop request', async () => {
    // A fatal error during the reconnect backoff, then SIGTERM: the exit must still say fatal.
    const interrupts = new Interrupts();
    interrupts.push(fatal);
    interrupts.push({ kind: 'stop' });
    await expect(interrupts.next()).resolves.toBe(fatal);
  });

  it('canHandOverAPendingFatalErrorToALoopThatIsNoLongerWaiting', () => {
    const interrupts = new Interrupts();
    expect(interrupts.takeFatal()).toBeUndefined();
    interrupts.push(lost);
    expect(interrupts.takeFatal()).toBeUndefined();
    interrupts.push(fatal);
    expect(interrupts.takeFatal()).toBe(fatal.error);
    expect(interrupts.takeFatal()).toBeUndefined();
  });
});
