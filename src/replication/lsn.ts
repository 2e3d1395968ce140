/**
 * PostgreSQL log sequence numbers. An LSN is a 64-bit byte position in the WAL, written as two
 * hexadecimal 32-bit halves ("16/B374D848"). They are kept as bigint: comparing the strings is
 * wrong ("9/0" > "10/0" as text) and a JS number loses precision above 2^53.
 */
export type Lsn = bigint;

const MAX_HALF = 0xffffffffn;
const LSN_TEXT = /^([0-9a-f]{1,8})\/([0-9a-f]{1,8})$/i;

/** Parses "X/Y" in either spelling (upper or lower case, with or without zero padding). */
export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text.trim());
  if (match === null) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Formats like PostgreSQL does: upper-case hex halves without padding, "16/B374D848". */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > 0xffffffffffffffffn) throw new Error(`LSN out of range: ${lsn}`);
  const hi = (lsn >> 32n) & MAX_HALF;
  const lo = lsn & MAX_HALF;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** 2^32 and the high half below which a 64-bit value is a safe JS number (below 2^53). */
const TWO_32 = 0x1_0000_0000;
const SAFE_HIGH = 0x20_0000;

/**
 * The unsigned 64-bit big-endian integer at `at` (an LSN on the wire). Same value as
 * `readBigUInt64BE`, built from one number where it fits in 53 bits (every LSN below 8 PiB):
 * one bigint instead of the four Node's version allocates, on a path taken several times per
 * streamed transaction.
 */
export function readUInt64(buf: Buffer, at: number): bigint {
  const high = buf.readUInt32BE(at);
  const low = buf.readUInt32BE(at + 4);
  return high < SAFE_HIGH ? BigInt(high * TWO_32 + low) : (BigInt(high) << 32n) | BigInt(low);
}

/** The signed 64-bit big-endian integer at `at` (a timestamp on the wire); see `readUInt64`. */
export function readInt64(buf: Buffer, at: number): bigint {
  const high = buf.readInt32BE(at);
  const low = buf.readUInt32BE(at + 4);
  return high < SAFE_HIGH && high >= -SAFE_HIGH
    ? BigInt(high * TWO_32 + low)
    : (BigInt(high) << 32n) + BigInt(low);
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}
