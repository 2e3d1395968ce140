import {
  decodePosition,
  encodePosition,
  isPublished,
  PositionBuilder,
} from '../../../src/ack/published-position';

describe('published position', () => {
  const whole = { lsn: 0x2000n };

  it('canSkipTransactionsWhoseCommitStartsBeforeTheRecordedEnd', () => {
    expect(isPublished(whole, { commitLsn: 0x1ff0n, index: 5 })).toBe(true);
    // The next transaction's commit record starts at (or after) the recorded end: not published.
    expect(isPublished(whole, { commitLsn: 0x2000n, index: 0 })).toBe(false);
    expect(isPublished(undefined, { commitLsn: 0x10n, index: 0 })).toBe(false);
  });

  it('canSkipThePublishedPrefixOfASplitTransaction', () => {
    const partial = { lsn: 0x2000n, partial: { commitLsn: 0x3000n, events: 3 } };
    expect(isPublished(partial, { commitLsn: 0x3000n, index: 2 })).toBe(true);
    expect(isPublished(partial, { commitLsn: 0x3000n, index: 3 })).toBe(false);
    expect(isPublished(partial, { commitLsn: 0x4000n, index: 0 })).toBe(false);
  });

  it('roundTripsThroughTheRecordValueWithLsnsInPostgresSpelling', () => {
    const position = {
      lsn: (0x16n << 32n) | 0xb374d848n,
      partial: { commitLsn: (0x17n << 32n) | 0x10n, events: 1234 },
      commitTimeUs: 1_700_000_000_123_456n,
    };
    const value = encodePosition('slot_a', position, 'host/1');
    const doc = JSON.parse(value.toString()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      slot: 'slot_a',
      lsn: '16/B374D848',
      partialCommitLsn: '17/10',
      partialEvents: 1234,
      commitTime: '2023-11-14T22:13:20.123Z',
    });
    expect(decodePosition(value)).toEqual(position);
    expect(decodePosition(encodePosition('s', whole, 'w'))).toEqual(whole);
  });

  it('roundTripsTheRecoveryMarkers (slot-gap repair, pending backfill) and leaves them out when unset', () => {
    const marked = { lsn: 0x10n, repairFromUs: 1_700_000_000_000_000n, snapshotPending: true };
    const value = encodePosition('s', marked, 'w');
    expect(JSON.parse(value.toString())).toMatchObject({
      repairFromUs: '1700000000000000',
      snapshotPending: true,
    });
    expect(decodePosition(value)).toEqual(marked);
    const plain = JSON.parse(encodePosition('s', { lsn: 0x10n }, 'w').toString()) as object;
    expect(Object.keys(plain)).not.toContain('repairFromUs');
    expect(Object.keys(plain)).not.toContain('snapshotPending');
  });

  it('failsOnRecordsThatAreNotPositions', () => {
    expect(() => decodePosition(Buffer.from('nope'))).toThrow(/not JSON/);
    expect(() => decodePosition(Buffer.from('{"slot":"x"}'))).toThrow(/no "lsn"/);
    expect(() =>
      decodePosition(Buffer.from('{"lsn":"0/1","partialCommitLsn":"0/2","partialEvents":"x"}')),
    ).toThrow(/event count/);
  });

  it('buildsThePositionOfWhatWasSentInStreamOrder', () => {
    const builder = new PositionBuilder(undefined);
    builder.event({ commitLsn: 0x100n, index: 0 });
    builder.event({ commitLsn: 0x100n, index: 1 });
    expect(builder.position).toEqual({ lsn: 0n, partial: { commitLsn: 0x100n, events: 2 } });
    builder.transactionEnd(0x180n, 42n);
    expect(builder.position).toEqual({ lsn: 0x180n, commitTimeUs: 42n });
    builder.event({ commitLsn: 0x200n, index: 0 });
    expect(builder.position).toEqual({
      lsn: 0x180n,
      partial: { commitLsn: 0x200n, events: 1 },
      commitTimeUs: 42n,
    });
  });
});
