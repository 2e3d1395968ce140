import type { Config } from '../config/load';
import type { OutboxLayout } from '../events/outbox-mapper';
import type { AvroSchemas } from '../kafka/avro';
import { RecordMapper } from '../kafka/record-mapper';
import type { PreflightOptions } from '../replication/preflight';

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
    headers: config.headerColumns,
  };
}

/** What preflight checks (and creates, when `createSlot`). */
export function preflightOptions(config: Config, createSlot: boolean): PreflightOptions {
  const layout = outboxLayout(config);
  return {
    table: config.outboxTable,
    columns: [
      ...(Object.values(layout.columns) as string[]),
      ...(layout.timestamp === undefined ? [] : [layout.timestamp]),
    ],
    publicationName: config.publicationName,
    slotName: config.slotName,
    createSlot,
    tableOptional: config.messagePrefix !== undefined,
  };
}

/** Turns domain events into Kafka records in the configured value format. */
export function recordMapper(config: Config, avro: AvroSchemas | undefined): RecordMapper {
  const { schema, name } = config.outboxTable;
  const database = new URL(config.databaseUrl).pathname.replace(/^\//, '') || 'postgres';
  return new RecordMapper(config.topicTemplate, {
    format: config.valueFormat,
    cloudEventsSource: config.cloudEventsSource ?? `/outbox-relay/${database}/${schema}.${name}`,
    avro,
  });
}
