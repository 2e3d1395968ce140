/**
 * Why an event went to the dead-letter topic (header `dlq.reason`). Stable codes: consumers of
 * the dead-letter topic and alerts switch on them; the README lists each.
 */
export type DeadLetterReason =
  // the row or message itself
  | 'MISSING_ID'
  | 'MISSING_AGGREGATE_TYPE'
  | 'MISSING_AGGREGATE_ID'
  | 'MISSING_TYPE'
  | 'PAYLOAD_NOT_JSON'
  // its record
  | 'INVALID_TOPIC'
  | 'INVALID_PARTITION'
  | 'PAYLOAD_INVALID'
  | 'NO_SCHEMA'
  | 'RECORD_TOO_LARGE';
