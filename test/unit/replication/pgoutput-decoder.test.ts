import { decodePgoutput, Tuple } from '../../../src/replication/pgoutput-decoder';
import { PgoutputBuilder as B } from './pgoutput-builder';

describe('decodePgoutput', () => {
  it('decodes Begin with a commit LSN above 2^32 and a full-precision timestamp', () => {
    expect(decodePgoutput(B.begin(0x1_2345_6789n, 830_000_000_123_456n, 4242))).toEqual({
      tag: 'begin',
      finalLsn: 0x1_2345_6789n,
      commitTime: 830_000_000_123_456n,
      xid: 4242,
    });
  });

  it('decodes Commit with its end LSN', () => {
    expect(decodePgoutput(B.commit(0x10n, 0x38n, 5n))).toEqual({
      tag: 'commit',
      commitLsn: 0x10n,
      endLsn: 0x38n,
      commitTime: 5n,
    });
  });

  it('decodes Relation with columns, type oids and key flags', () => {
    const message = decodePgoutput(
      B.relation(16384, 'public', 'outbox', [
        ['id', 2950],
        ['payload', 3802],
      ]),
    );
    expect(message).toEqual({
      tag: 'relation',
      relationId: 16384,
      schema: 'public',
      name: 'outbox',
      replicaIdentity: 'd',
      columns: [
        { name: 'id', typeOid: 2950, typeModifier: -1, partOfKey: true },
        { name: 'payload', typeOid: 3802, typeModifier: -1, partOfKey: false },
      ],
    });
  });

  it('decodes Insert values as raw text bytes, NULL as null, multi-byte UTF-8 intact', () => {
    const message = decodePgoutput(B.insert(16384, ['id-1', null, '{"name": "Zoë ключ 🚀"}']));
    expect(message.tag).toBe('insert');
    if (message.tag !== 'insert') return;
    expect(message.relationId).toBe(16384);
    const { values } = message;
    expect(values.length).toBe(3);
    expect([0, 1, 2].map((i) => values.text(i))).toEqual(['id-1', null, '{"name": "Zoë ключ 🚀"}']);
    expect(values.copy(2)).toEqual(Buffer.from('{"name": "Zoë ключ 🚀"}'));
    expect(values.copy(1)).toBeNull();
    // A column the row does not have reads as NULL.
    expect(values.text(3)).toBeNull();
  });

  it('copies values out of the message: later changes to its bytes do not reach them', () => {
    const bytes = B.insert(7, ['abc', 'payload']);
    const message = decodePgoutput(bytes);
    if (message.tag !== 'insert') throw new Error('not an insert');
    const copy = message.values.copy(1)!;
    bytes.fill(0);
    expect(copy.toString()).toBe('payload');
  });

  it('builds tuples from values read with SQL the way the stream gives them', () => {
    const tuple = Tuple.of([Buffer.from('a'), null, Buffer.from(''), Buffer.from('ключ')]);
    expect([0, 1, 2, 3].map((i) => tuple.text(i))).toEqual(['a', null, '', 'ключ']);
    expect(tuple.copy(3)).toEqual(Buffer.from('ключ'));
  });

  it('decodes an unchanged TOAST marker', () => {
    const bytes = new B().byte('I').u32(1).byte('N').i16(1).byte('u').build();
    const message = decodePgoutput(bytes);
    if (message.tag !== 'insert') throw new Error('not an insert');
    expect(message.values.isUnchangedToast(0)).toBe(true);
    expect(message.values.text(0)).toBeNull();
  });

  it('decodes logical decoding messages (pg_logical_emit_message)', () => {
    const message = decodePgoutput(B.message(true, 0x99n, 'outbox', '{"a":1}'));
    expect(message).toMatchObject({
      tag: 'message',
      transactional: true,
      lsn: 0x99n,
      prefix: 'outbox',
    });
    expect(message.tag === 'message' && message.content.toString()).toBe('{"a":1}');
  });

  it('recognises and skips update, delete, truncate, type and origin', () => {
    for (const [char, tag] of [
      ['U', 'update'],
      ['D', 'delete'],
      ['T', 'truncate'],
      ['Y', 'type'],
      ['O', 'origin'],
    ]) {
      expect(decodePgoutput(Buffer.from(`${char}\0\0\0\x01`, 'latin1'))).toEqual({ tag });
    }
  });

  it('fails loudly on malformed input instead of guessing', () => {
    expect(() => decodePgoutput(Buffer.from('Z'))).toThrow('unknown pgoutput message type 0x5a');
    const truncated = new B()
      .byte('I')
      .u32(1)
      .byte('N')
      .i16(1)
      .byte('t')
      .i32(100)
      .raw(Buffer.from('short'))
      .build();
    expect(() => decodePgoutput(truncated)).toThrow('runs past the message');
    // The same within a larger buffer (messages are read where they arrived, others after them):
    // the message's end is the bound, not the buffer's.
    const followed = Buffer.concat([truncated, Buffer.alloc(200, 0x41)]);
    expect(() => decodePgoutput(followed, 0, truncated.length)).toThrow('runs past the message');
    const begin = B.begin(0x10n, 5n, 7);
    const inside = Buffer.concat([Buffer.from('xy'), begin, B.commit(0x10n, 0x38n, 5n)]);
    expect(decodePgoutput(inside, 2, 2 + begin.length)).toMatchObject({ tag: 'begin', xid: 7 });
    expect(() => decodePgoutput(inside, 2, 2 + begin.length - 1)).toThrow(
      'message runs past its end',
    );
    const relation = B.relation(1, 'public', 'outbox', [['id', 25]]);
    // Cut before the schema name's terminator, with a zero byte right after the cut.
    const cut = Buffer.concat([relation.subarray(0, 11), Buffer.from('\0tail')]);
    expect(() => decodePgoutput(cut, 0, 11)).toThrow('unterminated string');
    expect(() => decodePgoutput(new B().byte('I').u32(1).byte('K').build())).toThrow(
      'insert without new tuple',
    );
    expect(() =>
      decodePgoutput(new B().byte('R').u32(1).raw(Buffer.from('public')).build()),
    ).toThrow('unterminated string');
  });
});
