import { readInt64, readUInt64, type Lsn } from './lsn';

/**
 * Decoder for pgoutput protocol version 1 messages (PostgreSQL docs, "Logical Replication Message
 * Formats"). Pure: bytes in, typed message out. Column values stay raw text bytes; turning them
 * into strings or JSON is the mapper's job, for the columns it needs only.
 *
 * Only what the relay uses is decoded in full (Begin, Commit, Relation, Insert, Message); the
 * others are recognised and skipped so an unexpected publication never breaks the stream.
 */

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeModifier: number;
  partOfKey: boolean;
}

export interface BeginMessage {
  tag: 'begin';
  /** LSN of the transaction's commit record. */
  finalLsn: Lsn;
  /** Commit time, microseconds since 2000-01-01. */
  commitTime: bigint;
  xid: number;
}

export interface CommitMessage {
  tag: 'commit';
  commitLsn: Lsn;
  /** End of the commit record: the position to confirm once the transaction is published. */
  endLsn: Lsn;
  commitTime: bigint;
}

export interface RelationMessage {
  tag: 'relation';
  relationId: number;
  schema: string;
  name: string;
  replicaIdentity: string;
  columns: RelationColumn[];
}

/** Column bounds for SQL NULL and for a TOASTed value the server did not send (updates only). */
const NULL_VALUE = -1;
const UNCHANGED_TOAST = -2;

/**
 * A tuple's column values, left where they are in the message: read by index as text or as a
 * copy of their bytes. A row costs one small typed array of offsets rather than a Buffer view per
 * column (per-event allocations are most of the relay's garbage-collection time).
 */
export class Tuple {
  /** Column i spans bytes[bounds[2i], bounds[2i+1]); bounds[2i] < 0 for NULL / unchanged TOAST. */
  private constructor(
    private readonly bytes: Buffer,
    private readonly bounds: number[],
  ) {}

  /** A tuple of these values, for rows read with SQL rather than from the stream. */
  static of(values: ReadonlyArray<Buffer | null>): Tuple {
    const bounds: number[] = [];
    let at = 0;
    for (const value of values) {
      bounds.push(value === null ? NULL_VALUE : at, (at += value?.length ?? 0));
    }
    return new Tuple(Buffer.concat(values.filter((v): v is Buffer => v !== null)), bounds);
  }

  static read(reader: Reader): Tuple {
    const count = reader.i16();
    // A plain array of small integers: cheaper to make than a typed array for a handful of columns.
    const bounds: number[] = [];
    for (let i = 0; i < count; i++) {
      const kind = reader.u8();
      if (kind === 0x74 /* t */ || kind === 0x62 /* b */) {
        const start = reader.skip(reader.i32());
        bounds.push(start, reader.position);
      } else if (kind === 0x6e /* n */) bounds.push(NULL_VALUE, 0);
      else if (kind === 0x75 /* u */) bounds.push(UNCHANGED_TOAST, 0);
      else throw new Error(`unknown tuple value kind 0x${kind.toString(16)}`);
    }
    return new Tuple(reader.buffer, bounds);
  }

  get length(): number {
    return this.bounds.length / 2;
  }

  /** The value as UTF-8 text; null for SQL NULL, an unchanged TOAST value or a missing column. */
  text(index: number): string | null {
    const start = this.bounds[2 * index];
    if (start === undefined || start < 0) return null;
    return this.bytes.toString('utf8', start, this.bounds[2 * index + 1]);
  }

  /**
   * A copy of the value's bytes (null as for `text`). A copy, not a view: a view would keep the
   * whole chunk the message arrived in (up to 64 KiB, other messages' bytes too) alive while the
   * event waits for Kafka, past what flow control counts.
   */
  copy(index: number): Buffer | null {
    const start = this.bounds[2 * index];
    if (start === undefined || start < 0) return null;
    const end = this.bounds[2 * index + 1]!;
    const out = Buffer.allocUnsafe(end - start);
    this.bytes.copy(out, 0, start, end);
    return out;
  }

  /** True for a TOASTed value the server left out because it did not change. */
  isUnchangedToast(index: number): boolean {
    return this.bounds[2 * index] === UNCHANGED_TOAST;
  }
}

export interface InsertMessage {
  tag: 'insert';
  relationId: number;
  values: Tuple;
}

export interface LogicalMessage {
  tag: 'message';
  transactional: boolean;
  lsn: Lsn;
  prefix: string;
  content: Buffer;
}

/** Messages the relay does not act on (update, delete, truncate, type, origin). */
export interface IgnoredMessage {
  tag: 'update' | 'delete' | 'truncate' | 'type' | 'origin';
}

export type PgoutputMessage =
  BeginMessage | CommitMessage | RelationMessage | InsertMessage | LogicalMessage | IgnoredMessage;

class Reader {
  private offset = 0;
  buffer: Buffer = Buffer.alloc(0);
  /** Where the message ends in `buffer` (other messages may follow it there). */
  end = 0;

  /** Reads `buffer[start, end)`. */
  reset(buffer: Buffer, start: number, end: number): this {
    this.buffer = buffer;
    this.offset = start;
    this.end = end;
    return this;
  }

  u8(): number {
    const value = this.buffer.readUInt8(this.offset);
    this.offset += 1;
    return value;
  }

  i16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  u32(): number {
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  i32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  u64(): bigint {
    const value = readUInt64(this.buffer, this.offset);
    this.offset += 8;
    return value;
  }

  i64(): bigint {
    const value = readInt64(this.buffer, this.offset);
    this.offset += 8;
    return value;
  }

  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0 || end >= this.end) throw new Error('unterminated string');
    const value = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  get position(): number {
    return this.offset;
  }

  /** Steps over `length` bytes; returns where they start. */
  skip(length: number): number {
    const start = this.offset;
    if (length < 0 || start + length > this.end) throw new Error('value runs past the message');
    this.offset += length;
    return start;
  }

  bytes(length: number): Buffer {
    if (this.offset + length > this.end) throw new Error('value runs past the message');
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

/** One reader for every message: decoding is synchronous, and this is a per-message object less. */
const shared = new Reader();

/**
 * Decodes one pgoutput (protocol version 1) message, `data[start, end)` (read in place where it
 * arrived). Throws on malformed input, including a message that reads past its end.
 */
export function decodePgoutput(data: Buffer, start = 0, end = data.length): PgoutputMessage {
  const reader = shared.reset(data, start, end);
  const message = decodeMessage(reader);
  // Fixed-size fields are read without a check each; any of them past the end shows here.
  if (reader.position > end) throw new Error('message runs past its end');
  return message;
}

function decodeMessage(reader: Reader): PgoutputMessage {
  const tag = reader.u8();
  switch (tag) {
    case 0x42 /* B */:
      return { tag: 'begin', finalLsn: reader.u64(), commitTime: reader.i64(), xid: reader.u32() };
    case 0x43 /* C */: {
      reader.u8(); // flags, unused
      return {
        tag: 'commit',
        commitLsn: reader.u64(),
        endLsn: reader.u64(),
        commitTime: reader.i64(),
      };
    }
    case 0x52 /* R */: {
      const relationId = reader.u32();
      const schema = reader.cstring();
      const name = reader.cstring();
      const replicaIdentity = String.fromCharCode(reader.u8());
      const count = reader.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.u8();
        columns.push({
          name: reader.cstring(),
          typeOid: reader.u32(),
          typeModifier: reader.i32(),
          partOfKey: (flags & 1) === 1,
        });
      }
      return { tag: 'relation', relationId, schema, name, replicaIdentity, columns };
    }
    case 0x49 /* I */: {
      const relationId = reader.u32();
      const marker = reader.u8();
      if (marker !== 0x4e /* N */)
        throw new Error(`insert without new tuple (0x${marker.toString(16)})`);
      return { tag: 'insert', relationId, values: Tuple.read(reader) };
    }
    case 0x4d /* M */: {
      const flags = reader.u8();
      const lsn = reader.u64();
      const prefix = reader.cstring();
      const content = reader.bytes(reader.u32());
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content };
    }
    case 0x55 /* U */:
      return { tag: 'update' };
    case 0x44 /* D */:
      return { tag: 'delete' };
    case 0x54 /* T */:
      return { tag: 'truncate' };
    case 0x59 /* Y */:
      return { tag: 'type' };
    case 0x4f /* O */:
      return { tag: 'origin' };
    default:
      throw new Error(`unknown pgoutput message type 0x${tag.toString(16)}`);
  }
}
