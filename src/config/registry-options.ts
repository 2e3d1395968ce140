import { SUBJECT_STRATEGIES } from '../kafka/formats/avro-registry';
import {
  customOption,
  enumOption,
  intOption,
  optionalFile,
  optionalSecret,
  parseBoolean,
} from './option';

function parseRegistryUrl(raw: string): string {
  const value = raw.trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error('must be an http:// or https:// URL');
  return value;
}

/** The schema registry for VALUE_FORMAT=avro (Confluent wire format). */
export const REGISTRY_OPTIONS = {
  schemaRegistryUrl: customOption<string | undefined>({
    env: 'SCHEMA_REGISTRY_URL',
    group: 'Schema registry',
    description:
      'Confluent-compatible schema registry for `VALUE_FORMAT=avro` (Confluent, Apicurio `.../apis/ccompat/v7`, Karapace, Redpanda). Set: values in the Confluent wire format (byte 0, 4-byte schema id, Avro body), readable by kafka-ui, Kafka Connect, ksqlDB and Flink. Unset: Avro single-object encoding. Logged without credentials.',
    parse: parseRegistryUrl,
    default: undefined,
    defaultText: '(none)',
    secret: true,
  }),
  schemaRegistrySubjectStrategy: enumOption({
    env: 'SCHEMA_REGISTRY_SUBJECT_STRATEGY',
    group: 'Schema registry',
    description:
      'Subject of a schema: `topic-record` `<topic>-<record full name>` (TopicRecordNameStrategy: several event types per topic, as `outbox.event.order` has), `record` `<record full name>` (RecordNameStrategy), `topic` `<topic>-value` (TopicNameStrategy: one event type per topic; the relay stops if a topic gets a second).',
    default: 'topic-record',
    values: SUBJECT_STRATEGIES,
  }),
  schemaRegistryAutoRegister: customOption({
    env: 'SCHEMA_REGISTRY_AUTO_REGISTER',
    group: 'Schema registry',
    description:
      '`true`: register each schema under its subject on first use (the registry checks compatibility). `false`: only look up the exact schema; a subject without it stops the relay, naming the subject (for teams that register schemas in CI).',
    parse: parseBoolean,
    default: true,
  }),
  schemaRegistryUsername: customOption<string | undefined>({
    env: 'SCHEMA_REGISTRY_USERNAME',
    group: 'Schema registry',
    description: 'Basic authentication user (with `SCHEMA_REGISTRY_PASSWORD`).',
    parse: (raw) => raw.trim(),
    default: undefined,
    defaultText: '(none)',
  }),
  schemaRegistryPassword: optionalSecret(
    'SCHEMA_REGISTRY_PASSWORD',
    'Schema registry',
    'Basic authentication password. Never logged.',
  ),
  schemaRegistryCaFile: optionalFile(
    'SCHEMA_REGISTRY_CA_FILE',
    'Schema registry',
    "PEM file with the CA certificate(s) that signed the registry's certificate (`https://` URLs; the system CAs otherwise).",
  ),
  schemaRegistryTimeoutMs: intOption({
    env: 'SCHEMA_REGISTRY_TIMEOUT_MS',
    group: 'Schema registry',
    description:
      'Longest wait for one registry answer; a call that fails or times out is retried (within `STARTUP_TIMEOUT_MS` at start-up, with `RETRY_*` backoff while streaming).',
    default: 10_000,
    min: 100,
    max: 600_000,
  }),
};
