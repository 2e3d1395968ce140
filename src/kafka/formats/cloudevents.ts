import type { DomainEvent } from '../../events/domain-event';
import type { ValueFormat } from './value-format';

/**
 * VALUE_FORMAT=cloudevents: CloudEvents 1.0, Kafka protocol binding, binary content mode. The
 * payload is the value; the attributes are `ce_*` headers.
 */
export class CloudEventsFormat implements ValueFormat {
  readonly name = 'cloudevents';

  /** @param source the CloudEvents `source` attribute */
  constructor(private readonly source: string) {}

  headers(event: DomainEvent): Record<string, string> {
    const headers: Record<string, string> = {
      ...event.metadata,
      ce_specversion: '1.0',
      ce_id: event.id,
      ce_source: this.source,
      ce_type: event.type,
      ce_time: event.occurredAt.toISOString(),
      ce_subject: event.aggregateId,
    };
    // A tombstone carries no data, so it declares no content type.
    if (event.payload !== null) headers['content-type'] = 'application/json';
    return headers;
  }

  encode(event: DomainEvent): { ok: true; value: Buffer | null } {
    return { ok: true, value: event.payload };
  }
}
