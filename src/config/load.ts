import { configInvalid } from '../errors';
import type { Option } from './option';
import { OPTIONS, type Options } from './options';

type ValueOf<O> = O extends Option<infer T> ? T : never;

/** The validated configuration: one frozen object, read once at start-up. */
export type Config = Readonly<{ [K in keyof Options]: ValueOf<Options[K]> }>;

/**
 * Reads every option from `env`. All problems are collected and reported together in one
 * CONFIG_INVALID error, so a user fixes their configuration in one go.
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, option] of Object.entries(OPTIONS) as Array<[string, Option<unknown>]>) {
    const raw = env[option.env];
    if (raw === undefined || raw.trim() === '') {
      if (option.fallback === undefined)
        problems.push(`${option.env} is required: ${option.description}`);
      else values[key] = option.fallback();
      continue;
    }
    try {
      values[key] = option.parse(raw);
    } catch (err) {
      // Parsers never echo a secret option's text, so the message is safe to print.
      problems.push(`${option.env} ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (values.retryMaxMs !== undefined && values.retryInitialMs !== undefined) {
    if ((values.retryMaxMs as number) < (values.retryInitialMs as number)) {
      problems.push('RETRY_MAX_MS must not be smaller than RETRY_INITIAL_MS');
    }
  }
  if (values.valueFormat === 'avro' && values.avroSchemaDir === undefined) {
    problems.push('AVRO_SCHEMA_DIR is required with VALUE_FORMAT=avro');
  }
  problems.push(...crossProblems(values));
  if (problems.length > 0) throw configInvalid(problems);
  return Object.freeze(values) as Config;
}

/** Rules that involve more than one option. */
function crossProblems(values: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const mechanism = values.kafkaSaslMechanism as string | undefined;
  if (mechanism !== undefined && mechanism !== 'none') {
    for (const [key, env] of [
      ['kafkaSaslUsername', 'KAFKA_SASL_USERNAME'],
      ['kafkaSaslPassword', 'KAFKA_SASL_PASSWORD'],
    ] as const) {
      if (values[key] === undefined)
        problems.push(`${env} is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    }
  }
  if ((values.kafkaTlsCertFile === undefined) !== (values.kafkaTlsKeyFile === undefined)) {
    problems.push('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together (mutual TLS)');
  }
  if (values.kafkaTlsKeyPassword !== undefined && values.kafkaTlsKeyFile === undefined) {
    problems.push('KAFKA_TLS_KEY_PASSWORD needs KAFKA_TLS_KEY_FILE');
  }
  const interval = values.heartbeatIntervalMs as number | undefined;
  const timeout = values.heartbeatTimeoutMs as number | undefined;
  if (interval !== undefined && timeout !== undefined && timeout <= interval) {
    problems.push('HEARTBEAT_TIMEOUT_MS must be larger than HEARTBEAT_INTERVAL_MS');
  }
  const fields = (values.additionalFields ?? []) as Array<{ column: string; placement: string }>;
  const envelope = fields.filter((f) => f.placement === 'envelope').map((f) => f.column);
  if (envelope.length > 0 && values.valueFormat !== undefined && values.valueFormat !== 'json') {
    problems.push(
      `OUTBOX_ADDITIONAL_FIELDS places ${envelope.join(', ')} in the envelope, which only VALUE_FORMAT=json has (got ${values.valueFormat as string}); use header placement`,
    );
  }
  if (values.schemaRegistryUrl !== undefined && values.valueFormat !== 'avro') {
    problems.push(
      `SCHEMA_REGISTRY_URL is for VALUE_FORMAT=avro (got ${String(values.valueFormat)}); unset it or set VALUE_FORMAT=avro`,
    );
  }
  if (
    (values.schemaRegistryUsername === undefined) !==
    (values.schemaRegistryPassword === undefined)
  ) {
    problems.push('SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together');
  }
  const registryUrl = values.schemaRegistryUrl as string | undefined;
  if (values.schemaRegistryCaFile !== undefined && !registryUrl?.startsWith('https:')) {
    problems.push('SCHEMA_REGISTRY_CA_FILE needs an https:// SCHEMA_REGISTRY_URL');
  }
  const txnInterval = values.kafkaTransactionIntervalMs as number | undefined;
  const txnTimeout = values.kafkaTransactionTimeoutMs as number | undefined;
  if (txnInterval !== undefined && txnTimeout !== undefined && txnTimeout < 10 * txnInterval) {
    problems.push(
      'KAFKA_TRANSACTION_TIMEOUT_MS must be at least 10 times KAFKA_TRANSACTION_INTERVAL_MS (a transaction must not time out while it is being filled)',
    );
  }
  return problems;
}

/** The README's option table, generated from the declarations. */
export function optionsMarkdownTable(): string {
  const rows = Object.values(OPTIONS as Record<string, Option<unknown>>).map(
    (o) => `| \`${o.env}\` | ${o.defaultText ?? '**required**'} | ${o.group} | ${o.description} |`,
  );
  return ['| variable | default | group | meaning |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}
