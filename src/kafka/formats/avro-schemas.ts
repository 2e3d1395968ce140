import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';

/**
 * Avro for VALUE_FORMAT=avro without a schema registry: one `.avsc` schema per event type (the
 * schema's name is the event type), values in Avro single-object encoding: 0xC3 0x01, the
 * schema's CRC-64-AVRO (Rabin) fingerprint of its Parsing Canonical Form (little-endian), then the
 * Avro binary body. Any reader holding the writer's schema can find it by fingerprint.
 */

const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;
const TABLE: bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i);
  for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK);
  return fp;
});

/** CRC-64-AVRO ("Rabin") fingerprint of a text, as the Avro specification defines it. */
export function rabinFingerprint64(text: string): bigint {
  let fp = EMPTY;
  for (const byte of Buffer.from(text, 'utf8'))
    fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(byte)) & 0xffn)]!;
  return fp;
}

/** avsc's schema() output is the Parsing Canonical Form (checked against the Java library). */
export function canonicalForm(type: avro.Type): string {
  return JSON.stringify(type.schema());
}

export interface AvroSchema {
  /** Full name, e.g. demo.member.MemberCreated; sent in header `avro.schema`. */
  fullName: string;
  type: avro.Type;
  /** 0xC3 0x01 + fingerprint (little-endian): the single-object header. */
  header: Buffer;
  file: string;
  /** The schema as written in its file (docs, defaults and all), as JSON without spacing. */
  text: string;
}

export type AvroEncoding = { ok: true; value: Buffer } | { ok: false; message: string };

/** Where values are encoded before being copied out at their size (one event at a time). */
const SCRATCH = Buffer.allocUnsafe(64 * 1024);

/** The schemas of one directory, by event type. */
export class AvroSchemas {
  private constructor(private readonly byType: ReadonlyMap<string, AvroSchema>) {}

  /** Loads every `.avsc` file of `dir`; throws one Error listing every problem. */
  static load(dir: string): AvroSchemas {
    const problems: string[] = [];
    const byType = new Map<string, AvroSchema>();
    let files: string[] = [];
    try {
      files = readdirSync(dir)
        .filter((f) => f.endsWith('.avsc'))
        .sort();
    } catch (err) {
      throw new Error(`AVRO_SCHEMA_DIR ${dir} cannot be read: ${(err as Error).message}`);
    }
    if (files.length === 0) problems.push(`AVRO_SCHEMA_DIR ${dir} has no .avsc files`);
    for (const file of files) {
      try {
        const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as avro.Schema;
        const type = avro.Type.forSchema(json);
        const fullName = type.name;
        if (fullName === undefined || type.typeName !== 'record')
          throw new Error('must be a named record schema');
        const eventType = fullName.slice(fullName.lastIndexOf('.') + 1);
        const other = byType.get(eventType);
        if (other !== undefined)
          throw new Error(`event type ${eventType} already has a schema in ${other.file}`);
        const header = Buffer.alloc(10);
        header[0] = 0xc3;
        header[1] = 0x01;
        header.writeBigUInt64LE(rabinFingerprint64(canonicalForm(type)), 2);
        byType.set(eventType, { fullName, type, header, file, text: JSON.stringify(json) });
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) {
      throw new Error(
        `invalid Avro schemas in ${dir}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      );
    }
    return new AvroSchemas(byType);
  }

  forEventType(eventType: string): AvroSchema | undefined {
    return this.byType.get(eventType);
  }

  all(): AvroSchema[] {
    return [...this.byType.values()];
  }

  get size(): number {
    return this.byType.size;
  }

  /**
   * Validates the JSON payload against the schema and encodes it behind `prefix` (by default the
   * single-object header). The result is a new buffer.
   */
  static encode(schema: AvroSchema, payload: Buffer, prefix = schema.header): AvroEncoding {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      return { ok: false, message: 'payload is not JSON' };
    }
    // avsc's writers check every value they write and throw on one that does not fit, so a
    // valid payload is encoded in one pass; only a failure is walked again to say where. A
    // record's writer reads fields off whatever it is given (a default for each one missing),
    // so the payload must be an object to begin with.
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { ok: false, message: AvroSchemas.mismatch(schema, value) };
    let at = -1;
    try {
      prefix.copy(SCRATCH);
      at = schema.type.encode(value, SCRATCH, prefix.length);
    } catch {
      return { ok: false, message: AvroSchemas.mismatch(schema, value) };
    }
    if (at < 0) {
      // Larger than the scratch buffer: let avsc size it.
      try {
        return { ok: true, value: Buffer.concat([prefix, schema.type.toBuffer(value)]) };
      } catch {
        return { ok: false, message: AvroSchemas.mismatch(schema, value) };
      }
    }
    return { ok: true, value: Buffer.from(SCRATCH.subarray(0, at)) };
  }

  private static mismatch(schema: AvroSchema, value: unknown): string {
    const paths: string[] = [];
    schema.type.isValid(value, {
      errorHook: (path: string[]) => paths.push(path.join('.') || '(root)'),
    });
    return `payload does not match Avro schema ${schema.fullName} at ${paths.join(', ') || '(root)'}`;
  }
}
