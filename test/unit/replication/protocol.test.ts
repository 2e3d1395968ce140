import {
  encodeStandbyStatus,
  parseCopyData,
  pgNow,
  pgTimestampToUnixMicros,
} from '../../../src/replication/protocol';

describe('replication protocol', () => {
  it('parses XLogData: positions and the plugin payload', () => {
    const chunk = Buffer.alloc(25 + 3);
    chunk[0] = 0x77;
    chunk.writeBigUInt64BE(0x1_0000_0010n, 1);
    chunk.writeBigUInt64BE(0x1_0000_0020n, 9);
    chunk.write('abc', 25);
    const message = parseCopyData(chunk);
    expect(message).toMatchObject({
      kind: 'xlogdata',
      walStart: 0x1_0000_0010n,
      walEnd: 0x1_0000_0020n,
    });
    expect(message.kind === 'xlogdata' && message.data.toString()).toBe('abc');
  });

  it('parses a primary keepalive and its reply request', () => {
    const chunk = Buffer.alloc(18);
    chunk[0] = 0x6b;
    chunk.writeBigUInt64BE(0xabcdefn, 1);
    chunk[17] = 1;
    expect(parseCopyData(chunk)).toEqual({
      kind: 'keepalive',
      walEnd: 0xabcdefn,
      replyRequested: true,
    });
    chunk[17] = 0;
    expect(parseCopyData(chunk)).toMatchObject({ replyRequested: false });
  });

  it('rejects unknown message types', () => {
    expect(() => parseCopyData(Buffer.from([0x78, 0]))).toThrow(
      'unexpected replication message type 0x78',
    );
  });

  it('encodes a standby status update with the confirmed LSN as write, flush and apply', () => {
    const nowMs = Date.UTC(2026, 0, 1);
    const status = encodeStandbyStatus(0x5_0000_00a0n, false, nowMs);
    expect(status).toHaveLength(34);
    expect(status[0]).toBe(0x72);
    expect(status.readBigUInt64BE(1)).toBe(0x5_0000_00a0n);
    expect(status.readBigUInt64BE(9)).toBe(0x5_0000_00a0n);
    expect(status.readBigUInt64BE(17)).toBe(0x5_0000_00a0n);
    expect(status.readBigInt64BE(25)).toBe(pgNow(nowMs));
    expect(status[33]).toBe(0);
  });

  it('converts between the PostgreSQL and Unix epochs', () => {
    expect(pgNow(Date.UTC(2000, 0, 1))).toBe(0n);
    expect(pgTimestampToUnixMicros(0n)).toBe(BigInt(Date.UTC(2000, 0, 1)) * 1000n);
    expect(pgTimestampToUnixMicros(pgNow(1_700_000_000_123))).toBe(1_700_000_000_123_000n);
  });
});
