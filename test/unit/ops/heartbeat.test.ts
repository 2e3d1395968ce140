import { Heartbeat } from '../../../src/ops/heartbeat';

describe('Heartbeat', () => {
  it('times the round trip of its own heartbeats and settles earlier ones with a later one', () => {
    const hb = new Heartbeat('slot_a');
    const first = hb.next(1_000);
    const second = hb.next(2_000);
    expect(first).not.toBe(second);
    expect(hb.outstandingSince).toBe(1_000);
    // The stream is ordered: the second coming back means the first was lost with an old stream.
    expect(hb.received(second, 2_250)).toBe(250);
    expect(hb.outstandingSince).toBeUndefined();
    expect(hb.received(first, 2_300)).toBeUndefined();
  });

  it('ignores heartbeats of other slots and other processes on the same database', () => {
    const mine = new Heartbeat('slot_a');
    const otherSlot = new Heartbeat('slot_b');
    const otherProcess = new Heartbeat('slot_a');
    mine.next(0);
    expect(mine.received(otherSlot.next(0), 10)).toBeUndefined();
    expect(mine.received(otherProcess.next(0), 10)).toBeUndefined();
    expect(mine.outstandingSince).toBe(0);
  });

  it('forgets heartbeats that were never written, and all of them on a new stream', () => {
    const hb = new Heartbeat('slot_a');
    const failed = hb.next(5);
    hb.cancel(failed);
    expect(hb.outstandingSince).toBeUndefined();
    hb.next(6);
    hb.next(7);
    hb.reset();
    expect(hb.outstandingSince).toBeUndefined();
  });

  it('remembers a bounded number of heartbeats', () => {
    const hb = new Heartbeat('slot_a');
    const first = hb.next(0);
    for (let i = 1; i <= 100; i++) hb.next(i);
    expect(hb.received(first, 200)).toBeUndefined();
    expect(hb.outstandingSince).toBeGreaterThan(0);
  });
});
