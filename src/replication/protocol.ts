import { readUInt64, type Lsn } from './lsn';

/**
 * The streaming replication sub-protocol carried in CopyData messages (PostgreSQL docs,
 * "Streaming Replication Protocol"): XLogData and primary keepalives from the server, standby
 * status updates from us. Pure encoding/decoding; the socket lives in replication-stream.ts.
 */

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

/**
 * XLogData: the CopyData chunk as received, its WAL positions read when asked. The relay needs
 * only the plugin's bytes, which it decodes in place from `DATA_START` (no view, no bigints: three
 * of these per one-row transaction).
 */
export class XLogData {
  readonly kind = 'xlogdata';
  /** Where the output plugin's bytes (one pgoutput message) start in `chunk`. */
  static readonly DATA_START = 25;

  constructor(readonly chunk: Buffer) {}

  get walStart(): Lsn {
    return readUInt64(this.chunk, 1);
  }

  get walEnd(): Lsn {
    return readUInt64(this.chunk, 9);
  }

  /** The logical decoding output plugin's bytes (here: one pgoutput message). */
  get data(): Buffer {
    return this.chunk.subarray(XLogData.DATA_START);
  }
}

export interface PrimaryKeepalive {
  kind: 'keepalive';
  /** The server's current end of WAL. */
  walEnd: Lsn;
  /** The server asks for a status update now (or it may time the connection out). */
  replyRequested: boolean;
}

export type ReplicationMessage = XLogData | PrimaryKeepalive;

export function parseCopyData(chunk: Buffer): ReplicationMessage {
  const tag = chunk[0];
  if (tag === 0x77 /* w */) return new XLogData(chunk);
  if (tag === 0x6b /* k */) {
    return { kind: 'keepalive', walEnd: readUInt64(chunk, 1), replyRequested: chunk[17] === 1 };
  }
  throw new Error(`unexpected replication message type 0x${(tag ?? 0).toString(16)}`);
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
