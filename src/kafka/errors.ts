/**
 * Whether a kafkajs failure may clear by itself (broker down, leader moving, timeouts) or will
 * fail the same way every time (record too large, authorisation, invalid config). Unknown errors
 * count as retriable: a stuck relay that says so in its logs beats one that drops events.
 */
export function isRetriableKafkaError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const e = current as {
      name?: string;
      retriable?: boolean;
      type?: string;
      cause?: unknown;
      originalError?: unknown;
    };
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested) && nested.length > 0) return nested.every(isRetriableKafkaError);
    if (e.name === 'KafkaJSNumberOfRetriesExceeded') {
      current = e.cause ?? e.originalError;
      continue;
    }
    if (e.name === 'KafkaJSProtocolError') return e.retriable !== false;
    return true;
  }
  return true;
}

/** The broker's error type (e.g. MESSAGE_TOO_LARGE) when the failure is a protocol error. */
export function kafkaErrorType(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const e = current as { type?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof e.type === 'string') return e.type;
    current = e.cause ?? e.originalError;
  }
  return undefined;
}
