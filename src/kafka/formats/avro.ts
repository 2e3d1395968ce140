import type { DomainEvent } from '../../events/domain-event';
import { AvroSchemas } from './avro-schemas';
import { eventHeaders } from './json';
import type { Encoded, ValueFormat } from './value-format';

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
    if (event.payload === null) return { ok: true, value: null };
    const schema = this.schemas.forEventType(event.type);
    if (schema === undefined)
      return {
        ok: false,
        reason: 'NO_SCHEMA',
        message: `no Avro schema for event type ${event.type}`,
      };
    const encoded = AvroSchemas.encode(schema, event.payload);
    if (!encoded.ok) return { ok: false, reason: 'PAYLOAD_INVALID', message: encoded.message };
    headers['avro.schema'] = schema.fullName;
    return { ok: true, value: encoded.value };
  }
}
