/** What went wrong, as a stable code operators can search for and alert on. */
export type RelayErrorCode =
  | 'CONFIG_INVALID'
  | 'PG_UNREACHABLE'
  | 'PG_WAL_LEVEL'
  | 'PG_PERMISSION'
  | 'OUTBOX_TABLE_MISSING'
  | 'OUTBOX_COLUMNS_MISSING'
  | 'PUBLICATION_INVALID'
  | 'SLOT_INVALID'
  | 'SLOT_IN_USE'
  | 'SLOT_DROPPED'
  | 'SLOT_GAP'
  | 'SNAPSHOT_FAILED'
  | 'REPLICATION_PROTOCOL'
  | 'REPLICATION_LOST'
  | 'KAFKA_SEND'
  | 'KAFKA_TOPIC'
  | 'KAFKA_AUTHORIZATION'
  | 'KAFKA_TRANSACTION'
  | 'KAFKA_FENCED'
  | 'EVENT_INVALID'
  | 'SCHEMA_REGISTRY'
  | 'REPLICATION_STALLED'
  | 'HTTP_LISTEN'
  | 'SHUTDOWN_TIMEOUT'
  | 'SHUTDOWN_INCOMPLETE';

export interface RelayErrorOptions {
  /** True when trying again later may succeed (network, broker outage, busy slot). */
  retriable?: boolean;
  cause?: unknown;
  /** What an operator needs to act: slot, table, topic, LSN, ... */
  context?: Record<string, string | number | bigint | boolean | undefined>;
}

/** The one error type the relay raises; the message says what is wrong and what to do. */
export class RelayError extends Error {
  override readonly name = 'RelayError';
  readonly retriable: boolean;
  readonly context: Readonly<Record<string, string | number | bigint | boolean | undefined>>;

  constructor(
    readonly code: RelayErrorCode,
    message: string,
    options: RelayErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.retriable = options.retriable ?? false;
    this.context = Object.freeze({ ...options.context });
  }
}

export function isRelayError(err: unknown, code?: RelayErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code);
}

/**
 * Anything thrown, as a RelayError: a RelayError as it is, anything else under `code` with its
 * message (prefixed by `what` when given).
 */
export function toRelayError(
  err: unknown,
  code: RelayErrorCode,
  options: { retriable?: boolean; what?: string } = {},
): RelayError {
  if (err instanceof RelayError) return err;
  const message =
    options.what === undefined ? describeError(err) : `${options.what}: ${describeError(err)}`;
  return new RelayError(code, message, { retriable: options.retriable, cause: err });
}

/** The one CONFIG_INVALID error that lists every problem, so a user fixes them in one go. */
export function configInvalid(problems: readonly string[]): RelayError {
  return new RelayError(
    'CONFIG_INVALID',
    `invalid configuration (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n` +
      problems.map((p) => `  - ${p}`).join('\n'),
  );
}

/** A readable one-line description of anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}
