import { readFileSync } from 'node:fs';
import { loadConfig, optionsMarkdownTable } from '../../../src/config/load';
import { isRelayError } from '../../../src/errors';

const minimal = {
  DATABASE_URL: 'postgres://relay:s3cret@db.internal:5432/app',
  KAFKA_BROKERS: 'k1:9092,k2:9092',
};

function problems(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (isRelayError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('loadConfig', () => {
  it('canApplyDefaults: only the two required variables are needed', () => {
    const config = loadConfig(minimal);
    expect(config).toMatchObject({
      kafkaBrokers: ['k1:9092', 'k2:9092'],
      outboxTable: { schema: 'public', name: 'outbox' },
      slotName: 'outbox_relay',
      publicationName: 'outbox_relay',
      logLevel: 'info',
      topicPartitions: 6,
      maxInFlightEvents: 5_000,
    });
    expect(config.topicTemplate.text).toBe('outbox.event.{aggregateType}');
    expect(config.keyColumn).toBeUndefined();
    expect(config.additionalFields).toEqual([]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('canReadEveryOption', () => {
    const config = loadConfig({
      ...minimal,
      OUTBOX_TABLE: 'events.my_outbox',
      SLOT_NAME: 'slot_a',
      TOPIC_TEMPLATE: 'app.{aggregateType}.events',
      TOPIC_PARTITIONS: '12',
      MAX_IN_FLIGHT_EVENTS: '1_000',
      LOG_LEVEL: 'DEBUG',
    });
    expect(config.outboxTable).toEqual({ schema: 'events', name: 'my_outbox' });
    expect(config.topicPartitions).toBe(12);
    expect(config.maxInFlightEvents).toBe(1000);
    expect(config.logLevel).toBe('debug');
  });

  it('canChooseExactlyOnceWithATransactionalIdDerivedFromTheSlot', () => {
    expect(loadConfig(minimal).deliveryGuarantee).toBe('at-least-once');
    const config = loadConfig({ ...minimal, DELIVERY_GUARANTEE: 'Exactly-Once' });
    expect(config).toMatchObject({
      deliveryGuarantee: 'exactly-once',
      kafkaTransactionalId: undefined,
      positionTopic: 'outbox-relay.positions',
      kafkaTransactionIntervalMs: 100,
      kafkaTransactionTimeoutMs: 60_000,
    });
  });

  it('failsOnAnUnknownGuaranteeAndATimeoutShorterThanTenIntervals', () => {
    const message = problems({
      ...minimal,
      DELIVERY_GUARANTEE: 'at-most-once',
      KAFKA_TRANSACTIONAL_ID: 'has space',
      POSITION_TOPIC: 'bad topic',
      KAFKA_TRANSACTION_INTERVAL_MS: '1000',
      KAFKA_TRANSACTION_TIMEOUT_MS: '5000',
    });
    expect(message).toMatch(/4 problems/);
    expect(message).toMatch(/DELIVERY_GUARANTEE must be one of at-least-once, exactly-once/);
    expect(message).toMatch(/KAFKA_TRANSACTIONAL_ID must be/);
    expect(message).toMatch(/POSITION_TOPIC/);
    expect(message).toMatch(/KAFKA_TRANSACTION_TIMEOUT_MS must be at least 10 times/);
  });

  it('failsOnMissingAndInvalid: every problem in one message', () => {
    const message = problems({
      KAFKA_BROKERS: 'nohostport',
      SLOT_NAME: 'Bad-Slot',
      TOPIC_TEMPLATE: 'x.{aggregate type}',
      TOPIC_PARTITIONS: '0',
      LOG_LEVEL: 'loud',
      RETRY_INITIAL_MS: '5000',
      RETRY_MAX_MS: '100',
    });
    expect(message).toMatch(/^invalid configuration \(7 problems\):/);
    expect(message).toContain('DATABASE_URL is required');
    expect(message).toContain('KAFKA_BROKERS "nohostport" is not host:port');
    expect(message).toContain('SLOT_NAME must be a lower-case identifier');
    expect(message).toContain(
      'TOPIC_TEMPLATE has placeholder(s) {aggregate type} that name no field',
    );
    expect(message).toContain('TOPIC_PARTITIONS must be between 1 and 10000, got 0');
    expect(message).toContain(
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    );
    expect(message).toContain('RETRY_MAX_MS must not be smaller than RETRY_INITIAL_MS');
  });

  it('failsOnBadDatabaseUrl without echoing it (it may hold a password)', () => {
    const message = problems({ ...minimal, DATABASE_URL: 'mysql://u:hunter2@h/db' });
    expect(message).toContain('DATABASE_URL must start with postgres://');
    expect(message).not.toContain('hunter2');
    expect(problems({ ...minimal, DATABASE_URL: 'not a url hunter2' })).not.toContain('hunter2');
  });

  it('acceptsAUnixSocketDatabaseUrl in libpq form, and refuses one naming neither host nor socket', () => {
    const socket = 'postgres://relay:s3cret@/app?host=/var/run/postgresql';
    expect(loadConfig({ ...minimal, DATABASE_URL: socket }).databaseUrl).toBe(socket);
    const message = problems({ ...minimal, DATABASE_URL: 'postgres://relay:hunter2@/app' });
    expect(message).toContain('DATABASE_URL must name a host, or a Unix socket directory');
    expect(message).not.toContain('hunter2');
  });

  it('canReadRoutingOptions: template fields, key column, additional fields', () => {
    const config = loadConfig({
      ...minimal,
      TOPIC_TEMPLATE: '{tenant}.outbox.{aggregateType}',
      OUTBOX_KEY_COLUMN: 'account_id',
      OUTBOX_ADDITIONAL_FIELDS: 'region:header, tenant:envelope:tenantId, shard:partition',
    });
    expect(config.topicTemplate.fields).toEqual(['tenant', 'aggregateType']);
    expect(config.keyColumn).toBe('account_id');
    expect(config.additionalFields).toEqual([
      { column: 'region', placement: 'header', alias: 'region' },
      { column: 'tenant', placement: 'envelope', alias: 'tenantId' },
      { column: 'shard', placement: 'partition', alias: 'shard' },
    ]);
  });

  it('failsOnBadRoutingOptions', () => {
    expect(problems({ ...minimal, OUTBOX_ADDITIONAL_FIELDS: 'region:body' })).toContain(
      'OUTBOX_ADDITIONAL_FIELDS entry "region:body" must be column:placement[:alias] with placement header, envelope or partition',
    );
    expect(problems({ ...minimal, OUTBOX_ADDITIONAL_FIELDS: 'a:partition,b:partition' })).toContain(
      'may place at most one column as the partition',
    );
    expect(
      problems({
        ...minimal,
        OUTBOX_ADDITIONAL_FIELDS: 'tenant:envelope',
        VALUE_FORMAT: 'cloudevents',
      }),
    ).toContain('places tenant in the envelope, which only VALUE_FORMAT=json has');
    expect(problems({ ...minimal, OUTBOX_KEY_COLUMN: 'a b' })).toContain(
      'OUTBOX_KEY_COLUMN must be a column name',
    );
  });

  it('canReadColumnMappingAndHeaderColumns', () => {
    const config = loadConfig({
      ...minimal,
      OUTBOX_COLUMN_AGGREGATE_ID: 'stream_id',
      OUTBOX_COLUMN_TIMESTAMP: 'occurred_at',
      OUTBOX_HEADER_COLUMNS: 'correlation_id:correlationId, causation_id',
    });
    expect(config.columnAggregateId).toBe('stream_id');
    expect(config.columnId).toBe('id');
    expect(config.columnTimestamp).toBe('occurred_at');
    expect(config.headerColumns).toEqual([
      { column: 'correlation_id', header: 'correlationId' },
      { column: 'causation_id', header: 'causation_id' },
    ]);
    expect(loadConfig(minimal).columnTimestamp).toBeUndefined();
    expect(problems({ ...minimal, OUTBOX_HEADER_COLUMNS: 'a:b:c' })).toContain(
      'entry "a:b:c" must be column or column:header-name',
    );
    expect(problems({ ...minimal, OUTBOX_COLUMN_ID: 'Event Id' })).toContain(
      'OUTBOX_COLUMN_ID must be a lower-case column name',
    );
  });

  it('failsOnNonNumbers', () => {
    expect(problems({ ...minimal, MAX_IN_FLIGHT_EVENTS: '10k' })).toContain(
      'MAX_IN_FLIGHT_EVENTS must be a whole number, got "10k"',
    );
    expect(problems({ ...minimal, OUTBOX_TABLE: 'a.b.c' })).toContain(
      'OUTBOX_TABLE must be [schema.]table',
    );
  });

  it('canReadOperationsAndSecurityOptions', () => {
    const config = loadConfig({
      ...minimal,
      HTTP_PORT: '0',
      HTTP_HOST: '::',
      HEARTBEAT_INTERVAL_MS: '2000',
      HEARTBEAT_TIMEOUT_MS: '9000',
      WAL_RETENTION_WARN_BYTES: '5_000_000_000',
      KAFKA_TLS_CA_FILE: '/etc/relay/ca.pem',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'relay',
      KAFKA_SASL_PASSWORD: 'pa ss',
    });
    expect(config).toMatchObject({
      httpPort: 0,
      httpHost: '::',
      heartbeatIntervalMs: 2000,
      heartbeatTimeoutMs: 9000,
      walRetentionWarnBytes: 5_000_000_000,
      kafkaTls: false,
      kafkaTlsCaFile: '/etc/relay/ca.pem',
      kafkaTlsRejectUnauthorized: true,
      kafkaSaslMechanism: 'scram-sha-512',
      kafkaSaslUsername: 'relay',
      kafkaSaslPassword: 'pa ss',
    });
    expect(loadConfig(minimal)).toMatchObject({
      httpPort: 9400,
      httpHost: '0.0.0.0',
      kafkaSaslMechanism: 'none',
    });
  });

  it('failsOnOptionsThatOnlyWorkTogether', () => {
    const message = problems({
      ...minimal,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_TLS_CERT_FILE: 'client.pem',
      KAFKA_TLS_REJECT_UNAUTHORIZED: 'maybe',
      HEARTBEAT_INTERVAL_MS: '5000',
      HEARTBEAT_TIMEOUT_MS: '5000',
      HTTP_PORT: '70000',
    });
    expect(message).toContain('KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=plain');
    expect(message).toContain('KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM=plain');
    expect(message).toContain('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together');
    expect(message).toContain('KAFKA_TLS_REJECT_UNAUTHORIZED must be true or false, got "maybe"');
    expect(message).toContain('HEARTBEAT_TIMEOUT_MS must be larger than HEARTBEAT_INTERVAL_MS');
    expect(message).toContain('HTTP_PORT must be between 0 and 65535');
    expect(problems({ ...minimal, KAFKA_SASL_MECHANISM: 'gssapi' })).toContain(
      'KAFKA_SASL_MECHANISM must be one of none, plain, scram-sha-256, scram-sha-512',
    );
  });

  it('never echoes the SASL password or TLS key passphrase', () => {
    const message = problems({
      ...minimal,
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_PASSWORD: 'hunter2-secret',
      KAFKA_TLS_KEY_PASSWORD: 'another-secret',
    });
    expect(message).toContain('KAFKA_SASL_USERNAME is required');
    expect(message).toContain('KAFKA_TLS_KEY_PASSWORD needs KAFKA_TLS_KEY_FILE');
    expect(message).not.toMatch(/hunter2|another-secret/);
  });

  it('canReadSchemaRegistryOptions and failsOnThoseThatDoNotFit', () => {
    const avro = { ...minimal, VALUE_FORMAT: 'avro', AVRO_SCHEMA_DIR: 'schemas/avro' };
    expect(loadConfig(avro)).toMatchObject({
      schemaRegistryUrl: undefined,
      schemaRegistrySubjectStrategy: 'topic-record',
      schemaRegistryAutoRegister: true,
      schemaRegistryTimeoutMs: 10_000,
    });
    expect(
      loadConfig({
        ...avro,
        SCHEMA_REGISTRY_URL: 'https://registry:8081',
        SCHEMA_REGISTRY_SUBJECT_STRATEGY: 'record',
        SCHEMA_REGISTRY_AUTO_REGISTER: 'false',
        SCHEMA_REGISTRY_USERNAME: 'relay',
        SCHEMA_REGISTRY_PASSWORD: 'pw',
        SCHEMA_REGISTRY_CA_FILE: 'ca.pem',
      }),
    ).toMatchObject({
      schemaRegistryUrl: 'https://registry:8081',
      schemaRegistrySubjectStrategy: 'record',
      schemaRegistryAutoRegister: false,
      schemaRegistryCaFile: 'ca.pem',
    });
    const message = problems({
      ...minimal,
      SCHEMA_REGISTRY_URL: 'http://registry:8081',
      SCHEMA_REGISTRY_PASSWORD: 'registry-hunter2',
      SCHEMA_REGISTRY_CA_FILE: 'ca.pem',
      SCHEMA_REGISTRY_SUBJECT_STRATEGY: 'topic-name',
    });
    expect(message).toContain('SCHEMA_REGISTRY_URL is for VALUE_FORMAT=avro (got json)');
    expect(message).toContain('SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together');
    expect(message).toContain('SCHEMA_REGISTRY_CA_FILE needs an https:// SCHEMA_REGISTRY_URL');
    expect(message).toContain(
      'SCHEMA_REGISTRY_SUBJECT_STRATEGY must be one of topic-record, record, topic',
    );
    expect(message).not.toContain('hunter2');
    expect(problems({ ...avro, SCHEMA_REGISTRY_URL: 'ftp://registry' })).toContain(
      'SCHEMA_REGISTRY_URL must be an http:// or https:// URL',
    );
  });

  it('keeps the README option table in step with the declarations', () => {
    // Prettier pads table cells; compare with runs of spaces and dashes collapsed.
    const normalize = (text: string) => text.replace(/ +/g, ' ').replace(/-{3,}/g, '---');
    const readme = normalize(readFileSync('README.md', 'utf8'));
    expect(readme).toContain(normalize(optionsMarkdownTable()));
  });
});
