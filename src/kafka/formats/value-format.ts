import type { DomainEvent } from '../../events/domain-event';

/** Why an event's payload cannot become a value in this format. */
export type EncodingProblem = { reason: 'NO_SCHEMA' | 'PAYLOAD_INVALID'; message: string };

export type Encoded = { ok: true; value: Buffer | null } | ({ ok: false } & EncodingProblem);

/**
 * How an event becomes a record's headers and value. One implementation per VALUE_FORMAT, built
 * once by the composition root; the record's topic, key, partition and timestamp do not depend
 * on it.
 */
export interface ValueFormat {
  readonly name: string;
  /** The record's headers. Metadata first, so a header column cannot overwrite the event's own attributes. */
  headers(event: DomainEvent): Record<string, string>;
  /** The record's value (null: a tombstone) for `topic`; may add headers (the schema's name). */
  encode(event: DomainEvent, headers: Record<string, string>, topic: string): Encoded;
  /** Start-up work over the network (a schema registry); throws a RelayError, retriable or not. */
  start?(): Promise<void>;
  /**
   * Completes the values of records about to be sent (a schema id the registry assigns once per
   * subject); throws a RelayError, retriable or not. Records of other formats pass untouched.
   */
  resolve?(records: ReadonlyArray<{ topic: string; value: Buffer | null }>): Promise<void>;
}

/** An outbox column placed into the JSON value's envelope, under `alias`. */
export interface EnvelopeField {
  column: string;
  alias: string;
}
