import { EventEmitter } from 'node:events';
import { Client, type ClientConfig } from 'pg';
import type { Logger } from 'pino';
import { RelayError } from '../errors';
import { describeDatabase } from '../redact';
import { raceTimeout } from '../retry/timeout';
import type { Lsn } from './lsn';
import { CopyFramer } from './copy-framer';
import { encodeStandbyStatus } from './protocol';
import { READ_INTERVAL_MS, ReadPacer, type PacedSocket } from './read-pacer';

/** pg's Connection sends CopyData but its type definitions do not say so. */
interface CopyConnection {
  stream: NodeJS.ReadableStream & PacedSocket;
  sendCopyFromChunk(chunk: Buffer): void;
  once(event: 'replicationStart', listener: () => void): void;
  /** Where pg sets up its parser on the socket (pg 8): replaced to put a CopyFramer before it. */
  attachListeners(stream: EventEmitter): void;
}

/**
 * Who receives the stream: told about it first, then given each CopyData message in order, as
 * `bytes[start, end)` (XLogData or keepalive, see protocol.ts). `bytes` is the socket's chunk or,
 * for a message split across chunks, a buffer of its own; neither is written again.
 */
export interface StreamConsumer {
  attach(stream: ReplicationStream): void;
  handle(bytes: Buffer, start: number, end: number): void;
}

export interface StreamOptions {
  databaseUrl: string;
  slotName: string;
  publicationName: string;
  /** Ask the server to include logical decoding messages (pg_logical_emit_message). */
  messages?: boolean;
  /** How long the socket rests between reads at low rates (READ_INTERVAL_MS; 0: never). */
  readIntervalMs?: number;
}

/**
 * The application_name of the relay's replication connections: shown in pg_stat_replication and
 * pg_stat_activity, and how `outbox-relay status` finds the instances of one slot. PostgreSQL
 * keeps the first 63 bytes.
 */
export function applicationName(slot: string): string {
  return `outbox-relay/${slot}`.slice(0, 63);
}

/** How long closing waits for the server before dropping the socket. */
const CLOSE_TIMEOUT_MS = 2_000;

/** SQLSTATEs that START_REPLICATION answers with. */
const OBJECT_IN_USE = '55006';
const UNDEFINED_OBJECT = '42704';
const INSUFFICIENT_PRIVILEGE = '42501';

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A connection in replication mode (for START_REPLICATION, CREATE_REPLICATION_SLOT): failing to
 * open it is REPLICATION_LOST, retriable.
 */
export async function openReplicationConnection(
  databaseUrl: string,
  application: string,
  log: Logger,
  framer?: CopyFramer,
): Promise<Client> {
  // pg supports the `replication` startup parameter; its type definitions omit it.
  const config: ClientConfig & { replication: 'database' } = {
    connectionString: databaseUrl,
    replication: 'database',
    application_name: application,
  };
  const client = new Client(config);
  client.on('error', (err) => log.debug({ err }, 'replication connection error'));
  if (framer !== undefined) frameBeforePg(client, framer);
  try {
    await client.connect();
  } catch (err) {
    throw new RelayError(
      'REPLICATION_LOST',
      `cannot open a replication connection to ${describeDatabase(databaseUrl)}: ${(err as Error).message}`,
      { retriable: true, cause: err },
    );
  }
  return client;
}

/**
 * Puts `framer` between the socket and pg's parser: pg then parses only what the framer forwards.
 * Installed before connecting, as pg attaches its parser once the socket (or TLS) is up.
 */
function frameBeforePg(client: Client, framer: CopyFramer): void {
  const connection = client.connection as unknown as CopyConnection;
  if (typeof connection.attachListeners !== 'function')
    throw new Error(
      'pg no longer has Connection.attachListeners: this pg version is not supported',
    );
  const attachPg = connection.attachListeners.bind(connection);
  connection.attachListeners = (socket) => {
    const toPg = new EventEmitter();
    attachPg(toPg);
    framer.forward = (message) => toPg.emit('data', message);
    socket.on('data', (chunk: Buffer) => {
      try {
        framer.push(chunk);
      } catch (err) {
        // A frame that cannot be read: the connection is unusable (REPLICATION_LOST, retried).
        (socket as unknown as { destroy(err: Error): void }).destroy(err as Error);
      }
    });
    socket.on('end', () => toPg.emit('end'));
  };
}

/**
 * A logical replication connection streaming one slot with pgoutput. It only moves bytes: it
 * hands each XLogData/keepalive to its consumer in order, sends standby status updates when told,
 * and pauses the socket for back-pressure. What to confirm is decided elsewhere.
 */
export class ReplicationStream {
  private readonly reading: ReadPacer;

  private constructor(
    /** The cluster's system identifier and database name ("systemid/dbname"). */
    readonly origin: string,
    private readonly client: Client,
    private readonly connection: CopyConnection,
    readIntervalMs: number,
  ) {
    this.reading = new ReadPacer(connection.stream, readIntervalMs);
  }

  /** Settles when the stream ends: resolves on a clean end, rejects on an error. */
  finished: Promise<void> = Promise.resolve();

  /**
   * Opens the connection and starts streaming. `consumer.attach` gets the stream before the first
   * message arrives (messages can arrive before this promise resolves), then `consumer.handle`
   * gets every message in order.
   */
  static async start(
    options: StreamOptions,
    consumer: StreamConsumer,
    log: Logger,
  ): Promise<ReplicationStream> {
    const framer = new CopyFramer();
    const client = await openReplicationConnection(
      options.databaseUrl,
      applicationName(options.slotName),
      log,
      framer,
    );
    let origin: string;
    try {
      const { rows } = await client.query<{ systemid: string; dbname: string }>('IDENTIFY_SYSTEM');
      origin = `${rows[0]?.systemid ?? '?'}/${rows[0]?.dbname ?? '?'}`;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw classifyStreamError(err, options.slotName);
    }
    const connection = client.connection as unknown as CopyConnection;
    const stream = new ReplicationStream(
      origin,
      client,
      connection,
      options.readIntervalMs ?? READ_INTERVAL_MS,
    );
    consumer.attach(stream);
    // The stream's CopyData is ours alone (pg's Client would hand each one to the active query,
    // which for this one, not a COPY, does nothing).
    framer.onCopyData = (bytes, start, end) => consumer.handle(bytes, start, end);
    // After the framer's listener, which has handed on the chunk's messages.
    connection.stream.on('data', (chunk: Buffer) => stream.reading.afterRead(chunk.length));
    const pluginOptions = [`proto_version '1'`, `publication_names '${options.publicationName}'`];
    if (options.messages === true) pluginOptions.push(`messages 'true'`);
    // 0/0: the server starts at the slot's confirmed_flush_lsn, the only safe place to resume.
    const sql = `START_REPLICATION SLOT ${options.slotName} LOGICAL 0/0 (${pluginOptions.join(', ')})`;
    const started = new Promise<void>((resolve) => connection.once('replicationStart', resolve));
    stream.finished = client.query(sql).then(
      () => undefined,
      (err: unknown) => {
        throw classifyStreamError(err, options.slotName);
      },
    );
    try {
      await Promise.race([started, stream.finished]);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    stream.finished.catch(() => undefined); // observed by the caller through `finished`
    return stream;
  }

  /** Reports `confirmed` as written, flushed and applied. */
  sendStatus(confirmed: Lsn, replyRequested = false): void {
    this.connection.sendCopyFromChunk(encodeStandbyStatus(confirmed, replyRequested));
  }

  /** Stops reading (back-pressure, shutdown) until `resume`. */
  pause(): void {
    this.reading.pause();
  }

  resume(): void {
    this.reading.resume();
  }

  get isPaused(): boolean {
    return this.reading.isPaused;
  }

  /**
   * Ends the connection. A hung server (the reason a stalled stream is closed) may never answer
   * the goodbye, so after CLOSE_TIMEOUT_MS the socket is destroyed.
   */
  async close(): Promise<void> {
    this.reading.stop();
    this.connection.stream.resume();
    const ended = Promise.all([
      this.client.end().catch(() => undefined),
      this.finished.catch(() => undefined),
    ]).then(() => true);
    const closed = await raceTimeout(ended, CLOSE_TIMEOUT_MS, false);
    if (!closed) {
      (this.connection.stream as unknown as { destroy(): void }).destroy();
      await ended;
    }
  }
}

function classifyStreamError(err: unknown, slot: string): RelayError {
  const state = sqlState(err);
  const message = (err as Error | undefined)?.message ?? String(err);
  if (state === OBJECT_IN_USE) {
    return new RelayError(
      'SLOT_IN_USE',
      `replication slot ${slot} is in use by another process (${message})`,
      {
        retriable: true,
        cause: err,
        context: { slot },
      },
    );
  }
  if (state === UNDEFINED_OBJECT && /slot/i.test(message)) {
    return new RelayError(
      'SLOT_DROPPED',
      `replication slot ${slot} no longer exists (${message}); events after its last confirmed position may be lost: recreate the slot and publish them again, or start from a fresh slot deliberately`,
      { cause: err, context: { slot } },
    );
  }
  const detail = (err as { detail?: unknown } | undefined)?.detail;
  // PostgreSQL 15: 'cannot read from logical replication slot "x"', detail 'This slot has been
  // invalidated because it exceeded the maximum reserved size.'; 16+: 'can no longer get changes'.
  if (
    /can no longer get changes|cannot read from logical replication slot|has been invalidated/i.test(
      `${message} ${typeof detail === 'string' ? detail : ''}`,
    )
  ) {
    return new RelayError(
      'SLOT_INVALID',
      `replication slot ${slot} was invalidated by the server (${message}${typeof detail === 'string' ? `: ${detail}` : ''}): WAL it needed was removed (max_slot_wal_keep_size) and events after its confirmed position are lost; recreate the slot and recover the missing events from the outbox table`,
      { cause: err, context: { slot } },
    );
  }
  if (/publication .* does not exist/i.test(message)) {
    return new RelayError(
      'PUBLICATION_INVALID',
      `the slot's publication disappeared (${message}); recreate it (see the README) and restart the relay`,
      { cause: err, context: { slot } },
    );
  }
  if (state === INSUFFICIENT_PRIVILEGE) {
    return new RelayError('PG_PERMISSION', `the relay's role may no longer replicate: ${message}`, {
      cause: err,
      context: { slot },
    });
  }
  return new RelayError('REPLICATION_LOST', `replication stream ended: ${message}`, {
    retriable: true,
    cause: err,
    context: { slot },
  });
}
