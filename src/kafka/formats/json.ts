import type { DomainEvent } from '../../events/domain-event';
import type { EnvelopeField, ValueFormat } from './value-format';

/** The Debezium-compatible headers: the event's metadata, then id, type and aggregateType. */
export function eventHeaders(event: DomainEvent): Record<string, string> {
  return { ...event.metadata, id: event.id, type: event.type, aggregateType: event.aggregateType };
}

/**
 * VALUE_FORMAT=json: the payload as the value, byte for byte. With envelope fields (Debezium's
 * `envelope` placement) the value is `{"payload": <payload>, "<alias>": "<column value>", ...}`,
 * the payload's bytes still untouched inside it. A null payload stays a tombstone.
 */
export class JsonFormat implements ValueFormat {
  readonly name = 'json';

  constructor(private readonly envelope: readonly EnvelopeField[] = []) {}

  headers(event: DomainEvent): Record<string, string> {
    return eventHeaders(event);
  }

  encode(event: DomainEvent): { ok: true; value: Buffer | null } {
    const { payload } = event;
    if (this.envelope.length === 0 || payload === null) return { ok: true, value: payload };
    let tail = '';
    for (const { column, alias } of this.envelope)
      tail += `,${JSON.stringify(alias)}:${JSON.stringify(event.fields[column] ?? null)}`;
    return {
      ok: true,
      value: Buffer.concat([Buffer.from('{"payload":'), payload, Buffer.from(`${tail}}`)]),
    };
  }
}
