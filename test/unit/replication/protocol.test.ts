import {
  encodeStandbyStatus,
  KEEPALIVE,
  pgNow,
  pgTimestampToUnixMicros,
  readKeepalive,
  unexpectedMessage,
  walStartOf,
  XLOG_DATA,
  XLOG_DATA_HEADER,
} from '../../../src/replication/protocol';

describe('replication protocol', () => {
  it('reads an XLogData message where it is: its WAL start', () => {
    const bytes = Buffer.alloc(3 + XLOG_DATA_HEADER + 3, 0xff);
    bytes[3] = XLOG_DATA;
    bytes.writeBigUInt64BE(0x1_0000_0010n, 4);
    expect(walStartOf(bytes, 3)).toBe(0x1_0000_0010n);
  });

  it('reads a primary keepalive and its reply request', () => {
    const bytes = Buffer.alloc(2 + 18);
    bytes[2] = KEEPALIVE;
    bytes.writeBigUInt64BE(0xabcdefn, 3);
    bytes[19] = 1;
    expect(readKeepalive(bytes, 2, 20)).toEqual({ walEnd: 0xabcdefn, replyRequested: true });
    bytes[19] = 0;
    expect(readKeepalive(bytes, 2, 20)).toMatchObject({ replyRequested: false });
    expect(() => readKeepalive(bytes, 2, 19)).toThrow('keepalive of 17 bytes, expected 18');
  });

  it('names unknown message types', () => {
    expect(unexpectedMessage(Buffer.from([0, 0x78]), 1).message).toBe(
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
