import type { DomainEvent } from '../events/domain-event';
import { AvroSchemas } from './avro';

const CONTENT_TYPE = 'application/json';

/** One Kafka record, as the producer sends it. */
export interface KafkaRecord {
  topic: string;
  /** The aggregate id: the key Kafka partitions by, so one aggregate stays in one partition. */
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Milliseconds since the epoch, as a string (kafkajs' form). */
  timestamp: string;
}

export const TOPIC_PLACEHOLDERS = ['{aggregateType}'] as const;
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why a topic name is not one Kafka accepts, or undefined when it is fine. */
export function topicProblem(topic: string): string | undefined {
  if (topic === '.' || topic === '..') return `"${topic}" is reserved`;
  if (!LEGAL_TOPIC.test(topic)) {
    return `"${topic}" must be 1-249 characters of ASCII letters, digits, '.', '_' or '-'`;
  }
  return undefined;
}

export type MappedRecord =
  | { ok: true; record: KafkaRecord }
  | { ok: false; reason: 'INVALID_TOPIC' | 'NO_SCHEMA' | 'PAYLOAD_INVALID'; message: string };

/**
 * How an event is written: `json` (the payload as the value; id/type/aggregateType headers, the
 * Debezium-compatible layout) or `cloudevents` (CloudEvents 1.0, Kafka protocol binding, binary
 * content mode: the payload as the value, the attributes as `ce_*` headers) or `avro` (the payload
 * validated against the event type's schema, single-object encoded; JSON-format headers plus
 * `avro.schema`).
 */
export type ValueFormat = 'json' | 'cloudevents' | 'avro';

export interface RecordOptions {
  format: ValueFormat;
  /** CloudEvents `source` attribute. */
  cloudEventsSource: string;
  /** Schemas by event type, for `avro`. */
  avro?: AvroSchemas | undefined;
}

/** Maps DomainEvents to Kafka records: topic from the template, key = aggregate id. */
export class RecordMapper {
  private readonly topics = new Map<string, string>();

  constructor(
    private readonly topicTemplate: string,
    private readonly options: RecordOptions = {
      format: 'json',
      cloudEventsSource: '/outbox-relay',
    },
  ) {}

  topicFor(event: DomainEvent): string {
    let topic = this.topics.get(event.aggregateType);
    if (topic === undefined) {
      topic = this.topicTemplate.split('{aggregateType}').join(event.aggregateType);
      if (this.topics.size < 10_000) this.topics.set(event.aggregateType, topic);
    }
    return topic;
  }

  /** Metadata first, so a header column cannot overwrite the event's own attributes. */
  headers(event: DomainEvent): Record<string, string> {
    if (this.options.format !== 'cloudevents') {
      return {
        ...event.metadata,
        id: event.id,
        type: event.type,
        aggregateType: event.aggregateType,
      };
    }
    const headers: Record<string, string> = {
      ...event.metadata,
      ce_specversion: '1.0',
      ce_id: event.id,
      ce_source: this.options.cloudEventsSource,
      ce_type: event.type,
      ce_time: event.occurredAt.toISOString(),
      ce_subject: event.aggregateId,
    };
    // A tombstone carries no data, so it declares no content type.
    if (event.payload !== null) headers['content-type'] = CONTENT_TYPE;
    return headers;
  }

  map(event: DomainEvent): MappedRecord {
    const topic = this.topicFor(event);
    const problem = topicProblem(topic);
    if (problem !== undefined)
      return { ok: false, reason: 'INVALID_TOPIC', message: `topic ${problem}` };
    let value = event.payload;
    const headers = this.headers(event);
    if (this.options.format === 'avro' && value !== null) {
      const schema = this.options.avro?.forEventType(event.type);
      if (schema === undefined) {
        return {
          ok: false,
          reason: 'NO_SCHEMA',
          message: `no Avro schema for event type ${event.type}`,
        };
      }
      const encoded = AvroSchemas.encode(schema, value);
      if (!encoded.ok) return { ok: false, reason: 'PAYLOAD_INVALID', message: encoded.message };
      value = encoded.value;
      headers['avro.schema'] = schema.fullName;
    }
    return {
      ok: true,
      record: {
        topic,
        key: event.aggregateId,
        value,
        headers,
        timestamp: String(event.occurredAt.getTime()),
      },
    };
  }
}

/** Approximate size of a record on the wire, to keep each request under the broker's limits. */
export function recordBytes(record: KafkaRecord): number {
  let size =
    70 +
    (record.key === null ? 0 : Buffer.byteLength(record.key)) +
    (record.value?.length ?? 0) +
    record.topic.length;
  for (const name in record.headers)
    size += name.length + Buffer.byteLength(record.headers[name]!) + 4;
  return size;
}
