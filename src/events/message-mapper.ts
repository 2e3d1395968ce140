import { createHash } from 'node:crypto';
import { formatLsn, type Lsn } from '../replication/lsn';
import { commitTimeMs, sourceIn, type DomainEvent, type TransactionSource } from './domain-event';
import { jsonMembers } from './json-members';
import { firstMissing, type MappedRow } from './outbox-mapper';

/**
 * Table-less outbox: a transactional logical decoding message
 * (`pg_logical_emit_message(true, prefix, json)`, see `outbox_emit` in schemas/outbox.sql)
 * becomes an event exactly like an outbox row. The JSON carries
 * `{aggregateType, aggregateId, type, payload, id?, headers?}`.
 */
interface MessageBody {
  id?: unknown;
  aggregateType?: unknown;
  aggregateId?: unknown;
  type?: unknown;
  payload?: unknown;
  headers?: unknown;
}

/**
 * An event id derived from where the message sits in the WAL, so a redelivery after a crash
 * carries the same id. The cluster's system identifier and database name keep ids of different
 * databases apart. Formatted as a UUID (version 8, RFC 9562: custom).
 */
export function messageEventId(origin: string, lsn: Lsn): string {
  const hash = createHash('sha256')
    .update(`${origin}/${formatLsn(lsn)}`)
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

/** An object's members as text: strings as they are, other values as the source spelled them. */
function asText(object: object, spellings: Map<string, string>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(object))
    out[key] = value === null ? null : typeof value === 'string' ? value : spellings.get(key)!;
  return out;
}

export function mapMessage(
  content: Buffer,
  lsn: Lsn,
  origin: string,
  source: TransactionSource,
  prefix: string,
): MappedRow {
  const raw = content.toString('utf8');
  let body: MessageBody;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    body = parsed;
  } catch {
    return {
      ok: false,
      invalid: {
        reason: 'PAYLOAD_NOT_JSON',
        message: `logical message "${prefix}" is not a JSON object`,
        row: { content: raw },
      },
    };
  }
  // Values are taken as the writer spelled them, never re-serialised: the payload reaches Kafka
  // byte for byte as sent, exactly as a json column's bytes do in the table path.
  const members = jsonMembers(raw);
  const row = asText(body, members);
  const id =
    body.id === undefined || body.id === null ? messageEventId(origin, lsn) : text(body.id);
  const aggregateType = text(body.aggregateType);
  const aggregateId = text(body.aggregateId);
  const type = text(body.type);
  const missing = firstMissing(
    { id, aggregateType, aggregateId, type },
    { id: 'id', aggregateType: 'aggregateType', aggregateId: 'aggregateId', type: 'type' },
  );
  if (missing !== undefined) {
    return {
      ok: false,
      invalid: {
        reason: missing[0],
        message: `logical message "${prefix}" has a missing or blank ${missing[1]}`,
        row,
        eventId: id,
        aggregateId,
      },
    };
  }
  const metadata: Record<string, string> = {};
  const headers = body.headers;
  if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [name, value] of Object.entries(
      asText(headers, jsonMembers(members.get('headers')!)),
    ))
      if (value !== null) metadata[name] = value;
  }
  const event: DomainEvent = {
    id: id!,
    aggregateType: aggregateType!,
    aggregateId: aggregateId!,
    type: type!,
    payload:
      body.payload === undefined || body.payload === null
        ? null
        : Buffer.from(members.get('payload')!, 'utf8'),
    occurredAt: new Date(commitTimeMs(source)),
    metadata,
    fields: row,
    source: sourceIn(source, `message:${prefix}`),
  };
  return { ok: true, event };
}
