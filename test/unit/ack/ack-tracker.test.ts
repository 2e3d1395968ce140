import { AckTracker } from '../../../src/ack/ack-tracker';

describe('AckTracker', () => {
  it('confirms a transaction once it is committed and every event is acknowledged', () => {
    const tracker = new AckTracker(100n);
    const txn = tracker.begin(1);
    tracker.addEvent();
    tracker.addEvent();
    expect(tracker.commit(200n)).toBeUndefined();
    expect(tracker.ack(txn)).toBeUndefined();
    expect(tracker.confirmed).toBe(100n);
    expect(tracker.ack(txn)).toBe(200n);
    expect(tracker.confirmed).toBe(200n);
    expect(tracker.idle).toBe(true);
  });

  it('never confirms past an older transaction that is still unacknowledged (out-of-order acks)', () => {
    const tracker = new AckTracker(0n);
    const t1 = tracker.begin(1);
    tracker.addEvent();
    tracker.commit(10n);
    const t2 = tracker.begin(2);
    tracker.addEvent();
    tracker.commit(20n);
    const t3 = tracker.begin(3);
    tracker.addEvent();
    tracker.commit(30n);

    expect(tracker.ack(t3)).toBeUndefined();
    expect(tracker.ack(t2)).toBeUndefined();
    expect(tracker.confirmed).toBe(0n);
    expect(tracker.ack(t1)).toBe(30n);
    expect(tracker.pendingTransactions).toBe(0);
  });

  it('does not confirm an open transaction even when all its events so far are acknowledged', () => {
    const tracker = new AckTracker(0n);
    const txn = tracker.begin(7);
    tracker.addEvent();
    expect(tracker.ack(txn)).toBeUndefined();
    expect(tracker.idle).toBe(false);
    expect(tracker.idleAt(500n)).toBeUndefined();
    expect(tracker.commit(50n)).toBe(50n);
  });

  it('confirms a transaction without outbox events as soon as it commits (in order)', () => {
    const tracker = new AckTracker(0n);
    const t1 = tracker.begin(1);
    tracker.addEvent();
    tracker.commit(10n);
    tracker.begin(2);
    expect(tracker.commit(20n)).toBeUndefined(); // behind t1
    expect(tracker.ack(t1)).toBe(20n);
  });

  it('confirms a keepalive position only when nothing is in flight', () => {
    const tracker = new AckTracker(100n);
    expect(tracker.idleAt(150n)).toBe(150n);
    expect(tracker.idleAt(120n)).toBeUndefined(); // never backwards
    const txn = tracker.begin(1);
    tracker.addEvent();
    tracker.commit(300n);
    expect(tracker.idleAt(400n)).toBeUndefined();
    expect(tracker.ack(txn)).toBe(300n);
    expect(tracker.idleAt(400n)).toBe(400n);
  });

  it('confirms exactly the end LSN, with bigint precision above 2^53', () => {
    const tracker = new AckTracker(2n ** 60n);
    const txn = tracker.begin(1);
    tracker.addEvent();
    tracker.commit(2n ** 60n + 1n);
    expect(tracker.ack(txn)).toBe(2n ** 60n + 1n);
  });

  it('keeps memory flat over many transactions', () => {
    const tracker = new AckTracker(0n);
    for (let i = 1; i <= 50_000; i++) {
      const txn = tracker.begin(i);
      tracker.addEvent();
      tracker.commit(BigInt(i * 10));
      tracker.ack(txn);
    }
    expect(tracker.confirmed).toBe(500_000n);
    expect((tracker as unknown as { queue: unknown[] }).queue.length).toBeLessThan(2048);
  });

  it('rejects impossible sequences', () => {
    const tracker = new AckTracker(0n);
    expect(() => tracker.addEvent()).toThrow('outside a transaction');
    expect(() => tracker.commit(1n)).toThrow('COMMIT without BEGIN');
    const txn = tracker.begin(1);
    expect(() => tracker.begin(2)).toThrow('inside open transaction');
    expect(() => tracker.ack(txn)).toThrow('acknowledged more than it sent');
  });
});
