import { readUInt64, type Lsn } from './lsn';

/**
 * The streaming replication sub-protocol carried in CopyData messages (PostgreSQL docs,
 * "Streaming Replication Protocol"): XLogData and primary keepalives from the server, standby
 * status updates from us. Pure encoding/decoding; the socket lives in replication-stream.ts.
 */

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

// The server's CopyData messages are read where they arrived: `bytes[start, end)` is one
// message's contents (no view or object per message: three of them per one-row transaction).

/** XLogData ('w'): WAL start, WAL end and send time, then the output plugin's bytes. */
export const XLOG_DATA = 0x77;
/** Primary keepalive ('k'): WAL end, send time, reply requested. */
export const KEEPALIVE = 0x6b;
/** Where the output plugin's bytes (one pgoutput message) start in an XLogData message. */
export const XLOG_DATA_HEADER = 25;

/** The WAL position an XLogData message starts at. */
export function walStartOf(bytes: Buffer, start: number): Lsn {
  return readUInt64(bytes, start + 1);
}

export interface PrimaryKeepalive {
  /** The server's current end of WAL. */
  walEnd: Lsn;
  /** The server asks for a status update now (or it may time the connection out). */
  replyRequested: boolean;
}

export function readKeepalive(bytes: Buffer, start: number, end: number): PrimaryKeepalive {
  if (end - start < 18) throw new Error(`keepalive of ${end - start} bytes, expected 18`);
  return { walEnd: readUInt64(bytes, start + 1), replyRequested: bytes[start + 17] === 1 };
}

/** Why a CopyData message from the server is not one the relay can read. */
export function unexpectedMessage(bytes: Buffer, start: number): Error {
  return new Error(`unexpected replication message type 0x${(bytes[start] ?? 0).toString(16)}`);
}

/** Current time as PostgreSQL microseconds since 2000-01-01. */
export function pgNow(nowMs: number = Date.now()): bigint {
  return BigInt(nowMs) * 1000n - PG_EPOCH_OFFSET_US;
}

/** PostgreSQL timestamp (microseconds since 2000-01-01) to microseconds since the Unix epoch. */
export function pgTimestampToUnixMicros(pgMicros: bigint): bigint {
  return pgMicros + PG_EPOCH_OFFSET_US;
}

/**
 * Standby status update: tells the server what we have written, flushed and applied. The slot's
 * confirmed_flush_lsn follows the flush position, so all three carry the confirmed LSN (never the
 * received one): the server may then recycle WAL up to there, and decoding resumes from there.
 */
export function encodeStandbyStatus(
  confirmed: Lsn,
  replyRequested = false,
  nowMs?: number,
): Buffer {
  const buffer = Buffer.alloc(34);
  buffer[0] = 0x72; // r
  buffer.writeBigUInt64BE(confirmed, 1);
  buffer.writeBigUInt64BE(confirmed, 9);
  buffer.writeBigUInt64BE(confirmed, 17);
  buffer.writeBigInt64BE(pgNow(nowMs), 25);
  buffer[33] = replyRequested ? 1 : 0;
  return buffer;
}
