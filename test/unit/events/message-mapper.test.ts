import { mapMessage, messageEventId } from '../../../src/events/message-mapper';

const source = { xid: 3, commitLsn: 0x50n, commitTimeUs: 1_700_000_000_000_000n };
const map = (json: string, lsn = 0x40n) =>
  mapMessage(Buffer.from(json), lsn, 'sys-1/app', source, 'outbox');

describe('table-less messages', () => {
  it('canMapAMessageToAnEvent, with headers and the payload as sent', () => {
    const result = map(
      '{"aggregateType": "cart", "aggregateId": "c-1", "type": "ItemAdded", "payload": {"sku": "A"}, "headers": {"correlationId": "k", "n": 2}}',
    );
    expect(result).toMatchObject({
      ok: true,
      event: {
        id: messageEventId('sys-1/app', 0x40n),
        aggregateType: 'cart',
        aggregateId: 'c-1',
        type: 'ItemAdded',
        payload: Buffer.from('{"sku": "A"}'),
        metadata: { correlationId: 'k', n: '2' },
        source: { table: 'message:outbox', commitLsn: 0x50n },
      },
    });
  });

  it('forwardsThePayloadBytesAsSent: big integers, 1.0, repeated keys, spacing and escapes survive', () => {
    const payload =
      '{ "n": 12345678901234567890, "f": 1.0, "k": 1, "k": 2, "s": "a\\"}\\u00e9", "a": [1.50, {"x": "]"}] }';
    const result = map(
      `{"aggregateType": "cart", "aggregateId": "c-1", "type": "T", "payload" : ${payload} , "headers": {"big": 98765432109876543210, "s": "v"}}`,
    );
    expect(result.ok && result.event.payload!.toString('utf8')).toBe(payload);
    expect(result.ok && result.event.metadata).toEqual({ big: '98765432109876543210', s: 'v' });
  });

  it.each([
    ['a number', '12345678901234567890', '12345678901234567890'],
    ['a string', '"text"', '"text"'],
    ['false', 'false', 'false'],
    ['an array', '[1.0,2]', '[1.0,2]'],
    ['the last of a repeated key', '{"a": 1}, "payload": {"b": 2.0}', '{"b": 2.0}'],
  ])('forwardsAPayloadThatIs %s as sent', (_, spelled, expected) => {
    const result = map(
      `{"payload": ${spelled}, "aggregateType": "cart", "aggregateId": "c-1", "type": "T"}`,
    );
    expect(result.ok && result.event.payload!.toString('utf8')).toBe(expected);
  });

  it('canDeriveStableIdsFromThePosition: same position, same id; other position or database, other id', () => {
    expect(messageEventId('sys-1/app', 0x40n)).toBe(messageEventId('sys-1/app', 0x40n));
    expect(messageEventId('sys-1/app', 0x41n)).not.toBe(messageEventId('sys-1/app', 0x40n));
    expect(messageEventId('sys-2/app', 0x40n)).not.toBe(messageEventId('sys-1/app', 0x40n));
    expect(messageEventId('sys-1/app', 0x40n)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('canUseAGivenId and a null payload (tombstone)', () => {
    const result = map(
      '{"id": "e-1", "aggregateType": "cart", "aggregateId": "c-1", "type": "Cleared", "payload": null}',
    );
    expect(result).toMatchObject({ ok: true, event: { id: 'e-1', payload: null } });
  });

  it.each([
    ['not json', 'PAYLOAD_NOT_JSON'],
    ['[1, 2]', 'PAYLOAD_NOT_JSON'],
    ['{"aggregateId": "c", "type": "T"}', 'MISSING_AGGREGATE_TYPE'],
    ['{"aggregateType": "cart", "type": "T"}', 'MISSING_AGGREGATE_ID'],
    ['{"aggregateType": "cart", "aggregateId": " ", "type": "T"}', 'MISSING_AGGREGATE_ID'],
    ['{"aggregateType": "cart", "aggregateId": "c"}', 'MISSING_TYPE'],
    ['{"id": "", "aggregateType": "cart", "aggregateId": "c", "type": "T"}', 'MISSING_ID'],
  ])('failsOnInvalidMessage %s', (json, reason) => {
    expect(map(json)).toMatchObject({ ok: false, invalid: { reason } });
  });
});
