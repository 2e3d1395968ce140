/**
 * Splits the bytes of a replication connection into protocol messages ahead of pg's parser.
 * CopyData ('d': every XLogData and keepalive while streaming) goes to `onCopyData` where it
 * arrived, as a range of the socket's chunk; every other message (CopyBothResponse, errors,
 * notices, CommandComplete, ReadyForQuery) is handed to pg's parser whole and in order, so the
 * client behaves as before. pg's parser made an object, a Buffer view and an event per CopyData
 * message: three per one-row transaction.
 *
 * Frame: type byte, then a 32-bit length that counts itself and the contents.
 */
export type CopyDataHandler = (bytes: Buffer, start: number, end: number) => void;

const HEADER = 5;
const COPY_DATA = 0x64; // 'd'

export class CopyFramer {
  /** Receives CopyData contents; until it is set, CopyData goes to pg like everything else. */
  onCopyData: CopyDataHandler | undefined;
  /** The start of a message the last chunk ended in the middle of (views of earlier chunks). */
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** The whole length of that message once its header is in; 0 before. */
  private needed = 0;

  /** Takes the other messages, each whole, for pg's parser (set when pg attaches it). */
  forward: (message: Buffer) => void = () => {
    throw new Error('no parser to forward protocol messages to');
  };

  /** The next chunk read from the socket. Throws on a frame whose length cannot be right. */
  push(chunk: Buffer): void {
    let at = this.partsLength > 0 ? this.complete(chunk) : 0;
    if (at < 0) return; // the chunk was all part of an unfinished message
    const end = chunk.length;
    while (end - at >= HEADER) {
      const next = at + 1 + frameLength(chunk, at);
      if (next > end) break;
      this.dispatch(chunk, at, next);
      at = next;
    }
    if (at < end) this.keep(chunk.subarray(at));
  }

  /** Adds to the unfinished message and handles it once whole; returns where the chunk goes on, or -1. */
  private complete(chunk: Buffer): number {
    let at = 0;
    if (this.needed === 0) {
      if (this.partsLength < HEADER) {
        at = Math.min(HEADER - this.partsLength, chunk.length);
        this.keep(chunk.subarray(0, at));
        if (this.partsLength < HEADER) return -1;
      }
      const head = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, HEADER);
      this.needed = 1 + frameLength(head, 0);
    }
    const take = Math.min(this.needed - this.partsLength, chunk.length - at);
    this.keep(chunk.subarray(at, at + take));
    if (this.partsLength < this.needed) return -1;
    const message = Buffer.concat(this.parts, this.needed);
    this.parts = [];
    this.partsLength = 0;
    this.needed = 0;
    this.dispatch(message, 0, message.length);
    return at + take;
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.partsLength += part.length;
  }

  private dispatch(bytes: Buffer, start: number, end: number): void {
    if (bytes[start] === COPY_DATA && this.onCopyData !== undefined)
      this.onCopyData(bytes, start + HEADER, end);
    else this.forward(bytes.subarray(start, end));
  }
}

function frameLength(bytes: Buffer, at: number): number {
  const length = bytes.readUInt32BE(at + 1);
  if (length < 4) throw new Error(`protocol message of length ${length} (at least 4)`);
  return length;
}
