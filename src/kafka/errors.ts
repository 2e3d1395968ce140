import { RelayError } from '../errors';

/**
 * Whether a kafkajs failure may clear by itself (broker down, leader moving, timeouts) or will
 * fail the same way every time (record too large, authorisation, invalid config). Unknown errors
 * count as retriable: a stuck relay that says so in its logs beats one that drops events.
 */
export function isRetriableKafkaError(err: unknown): boolean {
  // The relay's own errors say it themselves (e.g. ON_INVALID_EVENT=fail, a schema registry).
  if (err instanceof RelayError) return err.retriable;
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
    const e = current as {
      type?: unknown;
      cause?: unknown;
      originalError?: unknown;
      errors?: unknown;
    };
    if (typeof e.type === 'string') return e.type;
    // Aggregate errors (e.g. from createTopics) carry one error per topic.
    current =
      Array.isArray(e.errors) && e.errors.length > 0 ? e.errors[0] : (e.cause ?? e.originalError);
  }
  return undefined;
}

/**
 * A broker refusal of the relay's principal (TOPIC_/CLUSTER_/GROUP_AUTHORIZATION_FAILED) as a
 * fatal error naming the ACLs; retrying cannot grant them. Undefined for other failures.
 */
export function authorizationError(err: unknown, brokers: string): RelayError | undefined {
  const type = kafkaErrorType(err);
  if (type === undefined || !type.endsWith('AUTHORIZATION_FAILED')) return undefined;
  return new RelayError(
    'KAFKA_AUTHORIZATION',
    `Kafka at ${brokers} refused the relay's principal (${type}): it is not authorized; grant the ACLs listed in the README (Create, Write and Describe on the relay's topics and the dead-letter topic)`,
    { cause: err },
  );
}
