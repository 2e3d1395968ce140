import type { DomainEvent } from '../../events/domain-event';
import { AvroSchemas, type AvroSchema } from './avro-schemas';
import { eventHeaders } from './json';
import type { EncodingProblem, ValueFormat, Encoded } from './value-format';

/**
 * An event's payload as Avro behind `prefix` (the default: the single-object header), with the
 * schema of its type; or why it cannot be (no schema for the type, a payload that does not fit).
 * A NULL payload stays null (a tombstone). Both Avro formats encode through this.
 */
export function encodeAvroEvent(
  schemas: AvroSchemas,
  event: DomainEvent,
  prefix?: Buffer,
):
  | ({ ok: true; value: Buffer; schema: AvroSchema } | { ok: true; value: null })
  | ({ ok: false } & EncodingProblem) {
  if (event.payload === null) return { ok: true, value: null };
  const schema = schemas.forEventType(event.type);
  if (schema === undefined)
    return {
      ok: false,
      reason: 'NO_SCHEMA',
      message: `no Avro schema for event type ${event.type}`,
    };
  const encoded = AvroSchemas.encode(schema, event.payload, prefix ?? schema.header);
  if (!encoded.ok) return { ok: false, reason: 'PAYLOAD_INVALID', message: encoded.message };
  return { ok: true, value: encoded.value, schema };
}

/**
 * VALUE_FORMAT=avro: the payload validated against its event type's schema and written in Avro
 * single-object encoding; the JSON format's headers plus `avro.schema` (the schema's full name).
 */
export class AvroFormat implements ValueFormat {
  readonly name = 'avro';

  constructor(private readonly schemas: AvroSchemas) {}

  headers(event: DomainEvent): Record<string, string> {
    return eventHeaders(event);
  }

  encode(event: DomainEvent, headers: Record<string, string>): Encoded {
    const encoded = encodeAvroEvent(this.schemas, event);
    if (encoded.ok && encoded.value !== null) headers['avro.schema'] = encoded.schema.fullName;
    return encoded.ok ? { ok: true, value: encoded.value } : encoded;
  }
}
