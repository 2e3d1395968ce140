import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AvroSchemas,
  canonicalForm,
  rabinFingerprint64,
} from '../../../src/kafka/formats/avro-schemas';

// Reference values printed by the Java Avro library 1.12.0 (SchemaNormalization.toParsingForm,
// parsingFingerprint64, and BinaryMessageEncoder for the single-object encoding).
const JAVA_PCF =
  '{"name":"demo.member.MemberCreated","type":"record","fields":[{"name":"id","type":"string"},{"name":"name","type":"string"},{"name":"tier","type":{"name":"demo.member.Tier","type":"enum","symbols":["basic","gold"]}},{"name":"age","type":["null","int"]}]}';
const JAVA_FINGERPRINT = 0x508be1f50ed853c5n;
const JAVA_SINGLE_OBJECT = 'c301c553d80ef5e18b50106d656d6265722d3106616461020248';

describe('Avro', () => {
  const schemas = AvroSchemas.load(join('schemas', 'avro'));
  const created = schemas.forEventType('MemberCreated')!;

  it('canFingerprintLikeTheJavaLibrary (CRC-64-AVRO)', () => {
    expect(rabinFingerprint64('"int"')).toBe(0x7275d51a3f395c8fn);
    expect(rabinFingerprint64('"string"')).toBe(0x8f014872634503c7n);
    expect(rabinFingerprint64('"null"')).toBe(0x63dd24e7cc258f8an);
    expect(canonicalForm(created.type)).toBe(JAVA_PCF);
    expect(rabinFingerprint64(JAVA_PCF)).toBe(JAVA_FINGERPRINT);
  });

  it('canEncodeSingleObjectsByteForByteLikeTheJavaLibrary', () => {
    const payload = Buffer.from('{"id": "member-1", "name": "ada", "tier": "gold", "age": 36}');
    const encoded = AvroSchemas.encode(created, payload);
    expect(encoded.ok && encoded.value.toString('hex')).toBe(JAVA_SINGLE_OBJECT);
  });

  it('canReadOldRecordsWithANewerCompatibleSchema (added optional field)', () => {
    const v2 = AvroSchemas.load(join('test', 'fixtures', 'avro-v2')).forEventType('MemberCreated')!;
    const written = Buffer.from(JAVA_SINGLE_OBJECT, 'hex');
    expect(written.subarray(2, 10).readBigUInt64LE()).toBe(JAVA_FINGERPRINT);
    const resolver = v2.type.createResolver(created.type);
    expect(v2.type.fromBuffer(written.subarray(10), resolver)).toEqual({
      id: 'member-1',
      name: 'ada',
      tier: 'gold',
      age: 36,
      email: null,
    });
  });

  it('failsOnPayloadsTheSchemaRejects, naming the field', () => {
    const result = AvroSchemas.encode(
      created,
      Buffer.from('{"id": "m", "name": "x", "tier": "platinum"}'),
    );
    expect(result).toEqual({ ok: false, message: expect.stringContaining('tier') as unknown });
    expect(AvroSchemas.encode(created, Buffer.from('nope'))).toEqual({
      ok: false,
      message: 'payload is not JSON',
    });
  });

  it('failsOnBadSchemaDirectories with every problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'avro-test-'));
    try {
      writeFileSync(join(dir, 'a.avsc'), '{ not json');
      writeFileSync(join(dir, 'b.avsc'), '{"type": "record", "name": "x.Same", "fields": []}');
      writeFileSync(join(dir, 'c.avsc'), '{"type": "record", "name": "y.Same", "fields": []}');
      writeFileSync(join(dir, 'd.avsc'), '"string"');
      expect(() => AvroSchemas.load(dir)).toThrow(
        /a\.avsc: .*\n.*c\.avsc: event type Same already has a schema in b\.avsc\n.*d\.avsc: must be a named record schema/s,
      );
      expect(() => AvroSchemas.load(join(dir, 'missing'))).toThrow('cannot be read');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
