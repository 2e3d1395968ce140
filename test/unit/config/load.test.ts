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
      topicTemplate: 'outbox.event.{aggregateType}',
      logLevel: 'info',
      topicPartitions: 6,
      maxInFlightEvents: 10_000,
    });
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

  it('failsOnMissingAndInvalid: every problem in one message', () => {
    const message = problems({
      KAFKA_BROKERS: 'nohostport',
      SLOT_NAME: 'Bad-Slot',
      TOPIC_TEMPLATE: 'x.{aggregate}',
      TOPIC_PARTITIONS: '0',
      LOG_LEVEL: 'loud',
      RETRY_INITIAL_MS: '5000',
      RETRY_MAX_MS: '100',
    });
    expect(message).toMatch(/^invalid configuration \(7 problems\):/);
    expect(message).toContain('DATABASE_URL is required');
    expect(message).toContain('KAFKA_BROKERS "nohostport" is not host:port');
    expect(message).toContain('SLOT_NAME must be a lower-case identifier');
    expect(message).toContain('TOPIC_TEMPLATE has unknown placeholder(s) {aggregate}');
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

  it('keeps the README option table in step with the declarations', () => {
    // Prettier pads table cells; compare with runs of spaces and dashes collapsed.
    const normalize = (text: string) => text.replace(/ +/g, ' ').replace(/-{3,}/g, '---');
    const readme = normalize(readFileSync('README.md', 'utf8'));
    expect(readme).toContain(normalize(optionsMarkdownTable()));
  });
});
