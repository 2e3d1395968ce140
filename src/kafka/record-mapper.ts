import type { DeadLetterReason } from '../dead-letter-reason';
import type { DomainEvent } from '../events/domain-event';
import { JsonFormat } from './formats/json';
import type { ValueFormat } from './formats/value-format';
import { TopicTemplate } from './topic-name';

/** One Kafka record, as the producer sends it. */
export interface KafkaRecord {
  topic: string;
  /** The aggregate id (or OUTBOX_KEY_COLUMN's value): the key Kafka partitions by. */
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Milliseconds since the epoch, as a string (kafkajs' form). */
  timestamp: string;
  /** A partition chosen by the outbox row (partition placement); the key's partition otherwise. */
  partition?: number | undefined;
}

export type MappedRecord =
  | { ok: true; record: KafkaRecord }
  | {
      ok: false;
      reason: Extract<
        DeadLetterReason,
        'INVALID_TOPIC' | 'INVALID_PARTITION' | 'NO_SCHEMA' | 'PAYLOAD_INVALID'
      >;
      message: string;
    };

export interface RecordRouting {
  /** TOPIC_TEMPLATE: `{aggregateType}`, `{aggregateId}`, `{type}` or any outbox column. */
  topic: TopicTemplate;
  /** Column whose value is the record key; the aggregate id when undefined. */
  keyColumn?: string | undefined;
  /** Column whose value is the record's partition (Debezium's `partition` placement). */
  partitionColumn?: string | undefined;
}

const PARTITION = /^\d{1,9}$/;

/** A template field's value: an event attribute by its name, otherwise the outbox column. */
function fieldOf(event: DomainEvent, field: string): string | null | undefined {
  switch (field) {
    case 'aggregateType':
      return event.aggregateType;
    case 'aggregateId':
      return event.aggregateId;
    case 'type':
      return event.type;
    default:
      return Object.hasOwn(event.fields, field) ? event.fields[field] : undefined;
  }
}

/**
 * Maps DomainEvents to Kafka records: topic, key, partition and timestamp from the routing; headers
 * and value from the value format.
 */
export class RecordMapper {
  private readonly routing: RecordRouting;

  constructor(
    routing: RecordRouting | string,
    private readonly format: ValueFormat = new JsonFormat(),
  ) {
    this.routing = typeof routing === 'string' ? { topic: TopicTemplate.parse(routing) } : routing;
  }

  /** The value format's start-up work (a schema registry's checks), if it has any. */
  async start(): Promise<void> {
    await this.format.start?.();
  }

  /** Completes records about to be sent (schema ids); a no-op for formats that need nothing. */
  async resolve(records: readonly KafkaRecord[]): Promise<void> {
    await this.format.resolve?.(records);
  }

  /** The topic the event is routed to, or why it has none. */
  route(event: DomainEvent): { ok: true; topic: string } | { ok: false; message: string } {
    const rendered = this.routing.topic.render((field) => fieldOf(event, field));
    if (!rendered.ok) {
      return {
        ok: false,
        message: `TOPIC_TEMPLATE ${this.routing.topic.text}: {${rendered.missing}} has no value (null, blank or no such column)`,
      };
    }
    if (rendered.problem !== undefined) return { ok: false, message: `topic ${rendered.problem}` };
    return rendered;
  }

  /** The topic for the event when it has a legal one (the dead-letter header names it). */
  topicFor(event: DomainEvent): string | undefined {
    const rendered = this.routing.topic.render((field) => fieldOf(event, field));
    return rendered.ok ? rendered.topic : undefined;
  }

  map(event: DomainEvent): MappedRecord {
    const route = this.route(event);
    if (!route.ok) return { ok: false, reason: 'INVALID_TOPIC', message: route.message };
    let partition: number | undefined;
    const { partitionColumn, keyColumn } = this.routing;
    if (partitionColumn !== undefined) {
      const text = event.fields[partitionColumn];
      if (text !== null && text !== undefined) {
        if (!PARTITION.test(text.trim())) {
          return {
            ok: false,
            reason: 'INVALID_PARTITION',
            message: `partition column ${partitionColumn} holds "${text.slice(0, 40)}", not a partition number`,
          };
        }
        partition = Number(text.trim());
      }
    }
    const headers = this.format.headers(event);
    const encoded = this.format.encode(event, headers, route.topic);
    if (!encoded.ok) return encoded;
    return {
      ok: true,
      record: {
        topic: route.topic,
        key: keyColumn === undefined ? event.aggregateId : (event.fields[keyColumn] ?? null),
        value: encoded.value,
        headers,
        timestamp: String(event.occurredAt.getTime()),
        partition,
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
