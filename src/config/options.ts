import { type DatabaseAddress, parseDatabaseUrl } from './database-url';
import { VALUE_FORMAT_NAMES } from '../kafka/formats';
import { topicProblem } from '../kafka/topic-name';
import { customOption, enumOption, intOption, stringOption } from './option';
import { DELIVERY_OPTIONS } from './delivery-options';
import { OPERATIONS_OPTIONS } from './operations-options';
import { IDENTIFIER, OUTBOX_TABLE_OPTIONS } from './outbox-options';
import { RECOVERY_OPTIONS } from './recovery-options';
import { REGISTRY_OPTIONS } from './registry-options';
import { ROUTING_OPTIONS } from './routing-options';
import { SECURITY_OPTIONS } from './security-options';

function checkDatabaseUrl(raw: string): string {
  const value = raw.trim();
  let address: DatabaseAddress;
  try {
    address = parseDatabaseUrl(value);
  } catch {
    throw new Error(
      'must be a URL like postgres://user:password@host:5432/database (or, for a Unix socket, postgres://user@/database?host=/var/run/postgresql)',
    );
  }
  if (address.protocol !== 'postgres:' && address.protocol !== 'postgresql:') {
    throw new Error(`must start with postgres:// or postgresql://, got ${address.protocol}//`);
  }
  if (address.host === '')
    throw new Error('must name a host, or a Unix socket directory as ?host=/var/run/postgresql');
  return value;
}

function parseBrokers(raw: string): string[] {
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new Error('must list at least one host:port');
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(broker);
    if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw new Error(`"${broker}" is not host:port`);
    }
  }
  return brokers;
}

/**
 * Every option the relay reads, in README order. Names follow DESIGN.md: DATABASE_URL and PG_ names,
 * KAFKA_*, OUTBOX_*, and a few process-wide ones.
 */
export const OPTIONS = {
  databaseUrl: customOption({
    env: 'DATABASE_URL',
    group: 'PostgreSQL',
    description:
      'Connection string of a role with REPLICATION (or superuser) and SELECT on the outbox table. TLS options go here too (`sslmode=...`). A Unix socket is named by its directory as `host`, libpq-style: `postgres://relay@/app?host=/var/run/postgresql`.',
    parse: checkDatabaseUrl,
    secret: true,
  }),
  slotName: stringOption({
    env: 'SLOT_NAME',
    group: 'PostgreSQL',
    description: 'Logical replication slot (plugin `pgoutput`); created on first start if missing.',
    default: 'outbox_relay',
    pattern: IDENTIFIER,
    expected: 'a lower-case identifier (letters, digits, _; at most 63)',
  }),
  publicationName: stringOption({
    env: 'PUBLICATION_NAME',
    group: 'PostgreSQL',
    description:
      "Publication the slot decodes; created on first start if missing, for the outbox table only, with `publish = 'insert'`.",
    default: 'outbox_relay',
    pattern: IDENTIFIER,
    expected: 'a lower-case identifier (letters, digits, _; at most 63)',
  }),
  ...OUTBOX_TABLE_OPTIONS,
  kafkaBrokers: customOption({
    env: 'KAFKA_BROKERS',
    group: 'Kafka',
    description: 'Bootstrap brokers, comma-separated `host:port`.',
    parse: parseBrokers,
  }),
  ...SECURITY_OPTIONS,
  kafkaClientId: stringOption({
    env: 'KAFKA_CLIENT_ID',
    group: 'Kafka',
    description: 'Client id the producer presents to the brokers.',
    default: 'outbox-relay',
  }),
  ...ROUTING_OPTIONS,
  valueFormat: enumOption({
    env: 'VALUE_FORMAT',
    group: 'Kafka',
    description:
      '`json`: the payload as the value, headers `id`, `type`, `aggregateType` (Debezium-compatible). `cloudevents`: CloudEvents 1.0 binary content mode, the payload as the value and `ce_*` headers. `avro`: the payload validated against its schema in `AVRO_SCHEMA_DIR` and Avro-encoded: in the Confluent wire format with `SCHEMA_REGISTRY_URL`, else in Avro single-object encoding. See [Record contract](#record-contract).',
    default: 'json',
    values: VALUE_FORMAT_NAMES,
  }),
  avroSchemaDir: customOption<string | undefined>({
    env: 'AVRO_SCHEMA_DIR',
    group: 'Kafka',
    description:
      'Directory of `.avsc` schemas for `VALUE_FORMAT=avro`, one named record schema per event type (the schema name is the event type). Loaded and checked at start-up.',
    parse: (raw) => raw.trim(),
    default: undefined,
    defaultText: '(required for avro)',
  }),
  ...REGISTRY_OPTIONS,
  cloudEventsSource: customOption<string | undefined>({
    env: 'CLOUDEVENTS_SOURCE',
    group: 'Kafka',
    description: 'CloudEvents `source` attribute (URI reference) for `VALUE_FORMAT=cloudevents`.',
    parse: (raw) => raw.trim(),
    default: undefined,
    defaultText: '`/outbox-relay/<database>/<schema>.<table>`',
  }),
  topicPartitions: intOption({
    env: 'TOPIC_PARTITIONS',
    group: 'Kafka',
    description:
      'Partitions of topics the relay creates when they do not exist yet (existing topics are left alone).',
    default: 6,
    min: 1,
    max: 10_000,
  }),
  topicReplicationFactor: intOption({
    env: 'TOPIC_REPLICATION_FACTOR',
    group: 'Kafka',
    description:
      "Replication factor of topics the relay creates; `-1` uses the broker's `default.replication.factor`.",
    default: -1,
    min: -1,
    max: 100,
  }),
  messagePrefix: customOption<string | undefined>({
    env: 'OUTBOX_MESSAGE_PREFIX',
    group: 'Outbox',
    description:
      'Enables the table-less outbox: transactional logical decoding messages with this prefix (`outbox_emit(...)` in schemas/outbox.sql, or `pg_logical_emit_message(true, prefix, json)`) become events like rows. The outbox table is then optional.',
    parse: (raw) => {
      const value = raw.trim();
      if (value === '') throw new Error('must not be empty');
      return value;
    },
    default: undefined,
    defaultText: '(off)',
  }),
  onInvalidEvent: enumOption({
    env: 'ON_INVALID_EVENT',
    group: 'Outbox',
    description:
      'What to do with a row that cannot become a valid record (blank aggregate id/type/event type, topic Kafka rejects, payload not JSON, record too large): `dead-letter` publishes it to `DEAD_LETTER_TOPIC` with the reason in headers and goes on; `fail` stops the relay with an error and confirms nothing past it.',
    default: 'dead-letter',
    values: ['dead-letter', 'fail'] as const,
  }),
  deadLetterTopic: customOption({
    env: 'DEAD_LETTER_TOPIC',
    group: 'Outbox',
    description:
      'Topic for rows that cannot become records (see `ON_INVALID_EVENT`); created like the others.',
    parse: (raw) => {
      const value = raw.trim();
      const problem = topicProblem(value);
      if (problem !== undefined) throw new Error(problem);
      return value;
    },
    default: 'outbox.dead-letter',
  }),
  kafkaMaxRecordBytes: intOption({
    env: 'KAFKA_MAX_RECORD_BYTES',
    group: 'Kafka',
    description:
      "Largest record the relay sends; larger events are dead-lettered without the column that made them too big. Keep it at or below the broker's `message.max.bytes` / the topic's `max.message.bytes` (1 MiB by default).",
    default: 1_000_000,
    min: 4_096,
    max: 1_000_000_000,
  }),
  maxInFlightEvents: intOption({
    env: 'MAX_IN_FLIGHT_EVENTS',
    group: 'Flow control',
    description:
      'Events read from the WAL and not yet acknowledged by Kafka; at this bound the replication stream is paused. Also bounds the duplicates a crash can cause.',
    default: 5_000,
    min: 1,
    max: 10_000_000,
  }),
  maxInFlightBytes: intOption({
    env: 'MAX_IN_FLIGHT_BYTES',
    group: 'Flow control',
    description:
      'Bytes of events in flight (as decoded from the WAL); at this bound the stream is paused.',
    default: 64 * 1024 * 1024,
    min: 1024,
    max: 8 * 1024 * 1024 * 1024,
  }),
  kafkaBatchMaxEvents: intOption({
    env: 'KAFKA_BATCH_MAX_EVENTS',
    group: 'Flow control',
    description:
      'Most events in one produce request. One request is in flight at a time, so per-key order holds across retries.',
    default: 5_000,
    min: 1,
    max: 1_000_000,
  }),
  kafkaLingerMs: intOption({
    env: 'KAFKA_LINGER_MS',
    group: 'Flow control',
    description:
      "At-least-once: how long a produce request that is not full waits for more events, counted from its oldest event (as the Java producer's `linger.ms`, also 5 ms by default since Kafka 4.0). Fewer, fuller requests cost the broker far less CPU at moderate rates; `0` sends as soon as the previous request is acknowledged. A catching-up relay sends full requests without waiting.",
    default: 5,
    min: 0,
    max: 10_000,
  }),
  retryInitialMs: intOption({
    env: 'RETRY_INITIAL_MS',
    group: 'Flow control',
    description:
      'First delay before retrying a failed Kafka send or PostgreSQL connection; doubles each attempt, with jitter.',
    default: 250,
    min: 1,
    max: 600_000,
  }),
  retryMaxMs: intOption({
    env: 'RETRY_MAX_MS',
    group: 'Flow control',
    description:
      'Cap on the retry delay. Retries go on until the failure clears (or a fatal error).',
    default: 30_000,
    min: 1,
    max: 3_600_000,
  }),
  standbyStatusIntervalMs: intOption({
    env: 'STANDBY_STATUS_INTERVAL_MS',
    group: 'Flow control',
    description:
      "Interval of standby status updates (the confirmed LSN) to PostgreSQL when nothing else prompts one; keep it under the server's `wal_sender_timeout`.",
    default: 10_000,
    min: 100,
    max: 600_000,
  }),
  startupTimeoutMs: intOption({
    env: 'STARTUP_TIMEOUT_MS',
    group: 'Process',
    description:
      'How long start-up keeps retrying an unreachable PostgreSQL or Kafka before it exits with an error. Once streaming, outages are retried without limit.',
    default: 60_000,
    min: 0,
    max: 3_600_000,
  }),
  slotRetryIntervalMs: intOption({
    env: 'SLOT_RETRY_INTERVAL_MS',
    group: 'Process',
    description:
      'While another instance holds the slot, this instance waits as a standby and tries again at this interval.',
    default: 5_000,
    min: 100,
    max: 600_000,
  }),
  shutdownTimeoutMs: intOption({
    env: 'SHUTDOWN_TIMEOUT_MS',
    group: 'Process',
    description:
      'On SIGTERM/SIGINT, how long to wait for in-flight events to be acknowledged before exiting.',
    default: 30_000,
    min: 0,
    max: 3_600_000,
  }),
  logLevel: enumOption({
    env: 'LOG_LEVEL',
    group: 'Process',
    description:
      'pino log level. `info` shows lifecycle; `trace` shows every event (ids, never payloads).',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
  }),
  ...DELIVERY_OPTIONS,
  ...RECOVERY_OPTIONS,
  ...OPERATIONS_OPTIONS,
};

export type Options = typeof OPTIONS;
