import type { Logger } from 'pino';
import { parseDatabaseUrl } from '../config/database-url';
import type { Config } from '../config/load';
import type { OutboxLayout } from '../events/outbox-mapper';
import { buildValueFormat, type ValueFormat } from '../kafka/formats';
import { RecordMapper } from '../kafka/record-mapper';
import type { PreflightOptions } from '../replication/preflight';

/** Template fields that are event attributes rather than columns. */
const EVENT_FIELDS = new Set(['aggregateType', 'aggregateId', 'type']);

/** Columns the routing reads: topic placeholders, key column, envelope and partition fields. */
export function routingColumns(config: Config): string[] {
  return [
    ...new Set([
      ...config.topicTemplate.fields.filter((f) => !EVENT_FIELDS.has(f)),
      ...(config.keyColumn === undefined ? [] : [config.keyColumn]),
      ...config.additionalFields.filter((f) => f.placement !== 'header').map((f) => f.column),
    ]),
  ];
}

/** The configuration's outbox column names, as the row mapper takes them. */
export function outboxLayout(config: Config): OutboxLayout {
  return {
    columns: {
      id: config.columnId,
      aggregateType: config.columnAggregateType,
      aggregateId: config.columnAggregateId,
      type: config.columnType,
      payload: config.columnPayload,
    },
    timestamp: config.columnTimestamp,
    headers: [
      ...config.headerColumns,
      ...config.additionalFields
        .filter((f) => f.placement === 'header')
        .map((f) => ({ column: f.column, header: f.alias })),
    ],
    fields: routingColumns(config),
  };
}

/** What preflight checks (and creates, when `createSlot`): routing columns must exist too. */
export function preflightOptions(config: Config, createSlot: boolean): PreflightOptions {
  const layout = outboxLayout(config);
  return {
    table: config.outboxTable,
    columns: [
      ...(Object.values(layout.columns) as string[]),
      ...(layout.timestamp === undefined ? [] : [layout.timestamp]),
      ...(config.columnOrder === undefined ? [] : [config.columnOrder]),
      ...routingColumns(config),
    ],
    publicationName: config.publicationName,
    slotName: config.slotName,
    createSlot,
    tableOptional: config.messagePrefix !== undefined,
  };
}

/** The configured value format; throws an Error when it cannot be built (e.g. bad schemas). */
export function valueFormat(config: Config, log: Logger): ValueFormat {
  const database = parseDatabaseUrl(config.databaseUrl).database || 'postgres';
  return buildValueFormat(config.valueFormat, {
    envelope: config.additionalFields
      .filter((f) => f.placement === 'envelope')
      .map((f) => ({ column: f.column, alias: f.alias })),
    cloudEventsSource:
      config.cloudEventsSource ?? `/outbox-relay/${database}/${config.outboxTable.qualified()}`,
    avroSchemaDir: config.avroSchemaDir,
    registry:
      config.schemaRegistryUrl === undefined
        ? undefined
        : {
            url: config.schemaRegistryUrl,
            strategy: config.schemaRegistrySubjectStrategy,
            autoRegister: config.schemaRegistryAutoRegister,
            username: config.schemaRegistryUsername,
            password: config.schemaRegistryPassword,
            caFile: config.schemaRegistryCaFile,
            timeoutMs: config.schemaRegistryTimeoutMs,
            topicTemplate: config.topicTemplate,
          },
    log,
  });
}

/** Turns domain events into Kafka records: the configured routing and value format. */
export function recordMapper(config: Config, format: ValueFormat): RecordMapper {
  return new RecordMapper(
    {
      topic: config.topicTemplate,
      keyColumn: config.keyColumn,
      partitionColumn: config.additionalFields.find((f) => f.placement === 'partition')?.column,
    },
    format,
  );
}
