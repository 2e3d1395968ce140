import { randomBytes } from 'node:crypto';
import { formatLsn, maxLsn, parseLsn, readInt64, readUInt64 } from '../../../src/replication/lsn';

describe('LSN', () => {
  it('parses both spellings to the same 64-bit value', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(parseLsn('16/b374d848')).toBe(0x16b374d848n);
    expect(parseLsn('00000016/B374D848')).toBe(0x16b374d848n);
    expect(parseLsn('0/16B3748')).toBe(parseLsn('0/016B3748'));
  });

  it('formats like PostgreSQL (upper case, no padding) and round-trips', () => {
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    for (const text of ['0/0', '0/1', '1/0', 'FFFFFFFF/FFFFFFFF', 'A/BC']) {
      expect(formatLsn(parseLsn(text))).toBe(text);
    }
  });

  it('orders across the 32-bit boundary, where string comparison fails', () => {
    const below = parseLsn('0/FFFFFFFF');
    const above = parseLsn('1/0');
    expect(above - below).toBe(1n);
    expect(above > below).toBe(true);
    expect('9/0' > '10/0').toBe(true); // why LSN strings must never be compared
    expect(parseLsn('9/0') < parseLsn('10/0')).toBe(true);
    expect(maxLsn(below, above)).toBe(above);
  });

  it('handles the top of the range exactly (beyond 2^53)', () => {
    const top = parseLsn('FFFFFFFF/FFFFFFFF');
    expect(top).toBe(2n ** 64n - 1n);
    expect(top - 1n).toBe(parseLsn('FFFFFFFF/FFFFFFFE'));
    expect(parseLsn('FFFFFFFF/FFFFFFFE') < top).toBe(true);
    expect(() => formatLsn(top + 1n)).toThrow('out of range');
  });

  it('rejects text that is not an LSN', () => {
    for (const bad of ['', '16', '16/', '/1', 'G/0', '1/2/3', '123456789/0']) {
      expect(() => parseLsn(bad)).toThrow('not an LSN');
    }
  });

  it("reads 64-bit wire integers as Node's readBig(U)Int64BE does, at every magnitude", () => {
    const samples = [
      0n,
      1n,
      0xffffffffn,
      0x1_0000_0000n,
      0x1f_ffff_ffff_ffffn, // 2^53 - 1: the last value built from one number
      0x20_0000_0000_0000n,
      0xffff_ffff_ffff_ffffn,
      (1n << 63n) - 1n,
      1n << 63n,
    ];
    const buf = Buffer.alloc(9);
    for (const value of samples) {
      buf.writeBigUInt64BE(value, 1);
      expect(readUInt64(buf, 1)).toBe(value);
      expect(readInt64(buf, 1)).toBe(buf.readBigInt64BE(1));
    }
    for (let i = 0; i < 2_000; i++) {
      // Random magnitudes: the top bytes zero most of the time, as for real LSNs and timestamps.
      const bytes = randomBytes(8);
      for (let b = 0; b < i % 8; b++) bytes[b] = i % 3 === 0 ? 0xff : 0;
      expect(readUInt64(bytes, 0)).toBe(bytes.readBigUInt64BE(0));
      expect(readInt64(bytes, 0)).toBe(bytes.readBigInt64BE(0));
    }
  });
});
