import type { Logger } from 'pino';
import type { DomainEvent } from '../../events/domain-event';
import { RelayError } from '../../errors';
import type { TopicTemplate } from '../topic-name';
import type { AvroSchema, AvroSchemas } from './avro-schemas';
import { encodeAvroEvent } from './avro';
import { eventHeaders } from './json';
import { RegistryError, type RegistryClient } from './registry-client';
import type { Encoded, ValueFormat } from './value-format';

/** How a record's subject is named (Confluent's subject name strategies). */
export type SubjectStrategy = 'topic-record' | 'record' | 'topic';

export const SUBJECT_STRATEGIES: readonly SubjectStrategy[] = ['topic-record', 'record', 'topic'];

/** TopicRecordNameStrategy, RecordNameStrategy, TopicNameStrategy (value subjects). */
export function subjectFor(strategy: SubjectStrategy, topic: string, fullName: string): string {
  switch (strategy) {
    case 'topic-record':
      return `${topic}-${fullName}`;
    case 'record':
      return fullName;
    case 'topic':
      return `${topic}-value`;
  }
}

export interface RegistryFormatOptions {
  strategy: SubjectStrategy;
  /** Register schemas that are not under their subject yet; otherwise only look them up. */
  autoRegister: boolean;
  /** The topic routing, to learn at start-up the topics that depend on the event type alone. */
  topicTemplate: TopicTemplate;
}

/** Magic byte 0 and a 4-byte schema id, written once the registry has given the id. */
const WIRE_PREFIX = Buffer.alloc(5);

/**
 * VALUE_FORMAT=avro with SCHEMA_REGISTRY_URL: the payload validated against its event type's
 * schema and written in the Confluent wire format (byte 0, the schema id as a 4-byte big-endian
 * integer, the Avro binary body), which kafka-ui, Kafka Connect, ksqlDB and Flink read by the id.
 * Ids come from the registry once per subject and are cached: `encode` writes the id it knows;
 * a value whose subject has none yet waits with a blank id for `resolve`, which asks the registry
 * before the record is sent (registering the schema under its subject when auto-registration is
 * on).
 */
export class AvroRegistryFormat implements ValueFormat {
  readonly name = 'avro';
  /**
   * Values whose subject had no id yet when encoded: their id is written by `resolve`. Weak, so
   * a record that is never sent (a session that ended) does not stay in memory; `blanks` counts
   * those not resolved yet, so batches pass untouched once there are none.
   */
  private readonly blank = new WeakMap<Buffer, { schema: AvroSchema; subject: string }>();
  private blanks = 0;
  /** Schema ids by subject; and by topic and record, so a record costs no string building. */
  private readonly ids = new Map<string, number>();
  private readonly idsByTopic = new Map<string, Map<AvroSchema, number>>();
  /** TopicNameStrategy: the record each topic carries (one per topic). */
  private readonly recordOfTopic = new Map<string, string>();

  constructor(
    private readonly schemas: AvroSchemas,
    private readonly client: RegistryClient,
    private readonly options: RegistryFormatOptions,
    private readonly log: Logger,
  ) {}

  headers(event: DomainEvent): Record<string, string> {
    return eventHeaders(event);
  }

  encode(event: DomainEvent, headers: Record<string, string>, topic: string): Encoded {
    const encoded = encodeAvroEvent(this.schemas, event, WIRE_PREFIX);
    if (!encoded.ok || encoded.value === null) return encoded;
    const { schema } = encoded;
    const id = this.idsByTopic.get(topic)?.get(schema);
    if (id !== undefined) encoded.value.writeUInt32BE(id, 1);
    else {
      this.blank.set(encoded.value, {
        schema,
        subject: subjectFor(this.options.strategy, topic, schema.fullName),
      });
      this.blanks++;
    }
    headers['avro.schema'] = schema.fullName;
    return { ok: true, value: encoded.value };
  }

  /**
   * Checks the registry answers (and accepts the credentials), then resolves every subject known
   * before any event arrives: with RecordNameStrategy all of them; with the topic strategies
   * those whose topic depends on the event type alone, and the subjects already in the registry
   * for these records on topics TOPIC_TEMPLATE can produce (so an incompatible new version of a
   * schema stops the start).
   */
  async start(): Promise<void> {
    const existing = await this.registry(() => this.client.subjects(), 'listing subjects');
    const { strategy, topicTemplate } = this.options;
    const byType = topicTemplate.fields.every((f) => f === 'type');
    const due = new Map<string, { schema: AvroSchema; topic?: string }>();
    for (const schema of this.schemas.all()) {
      const eventType = schema.fullName.slice(schema.fullName.lastIndexOf('.') + 1);
      if (strategy === 'record') {
        due.set(schema.fullName, { schema });
        continue;
      }
      if (byType) {
        const rendered = topicTemplate.render((f) => (f === 'type' ? eventType : undefined));
        if (rendered.ok) {
          due.set(subjectFor(strategy, rendered.topic, schema.fullName), {
            schema,
            topic: rendered.topic,
          });
        }
      }
      if (strategy === 'topic-record') {
        // Only subjects of topics this relay's template can produce: not another team's topics.
        const suffix = `-${schema.fullName}`;
        const found = existing.filter(
          (s) => s.endsWith(suffix) && topicTemplate.matches(s.slice(0, -suffix.length)),
        );
        for (const subject of found) due.set(subject, { schema });
        if (found.length === 0 && !byType && !this.options.autoRegister)
          throw new RelayError(
            'SCHEMA_REGISTRY',
            `SCHEMA_REGISTRY_AUTO_REGISTER=false: the registry has no subject <topic>-${schema.fullName} for ${schema.file}; register the schema under the subjects of the topics it is published to, or set SCHEMA_REGISTRY_AUTO_REGISTER=true`,
            { context: { schema: schema.fullName, file: schema.file } },
          );
      }
    }
    if (strategy === 'topic' && !byType && this.schemas.size > 1)
      this.log.warn(
        { topicTemplate: topicTemplate.text, schemas: this.schemas.size },
        'SCHEMA_REGISTRY_SUBJECT_STRATEGY=topic allows one record type per topic, and TOPIC_TEMPLATE does not separate event types ({type}); the relay stops if a topic gets a second one (use topic-record)',
      );
    for (const [subject, { schema, topic }] of due) {
      if (topic !== undefined) this.checkOneRecordPerTopic(topic, schema);
      await this.idOf(subject, schema);
    }
    this.log.info(
      {
        registry: this.client.describe,
        strategy,
        autoRegister: this.options.autoRegister,
        subjects: [...this.ids.keys()],
      },
      'schema registry ready',
    );
  }

  /** Writes the ids the values encoded before their subject was known are waiting for. */
  async resolve(records: ReadonlyArray<{ topic: string; value: Buffer | null }>): Promise<void> {
    if (this.blanks === 0) return;
    for (const record of records) {
      const value = record.value;
      const waiting = value === null ? undefined : this.blank.get(value);
      if (waiting === undefined) continue;
      const { schema, subject } = waiting;
      let id = this.ids.get(subject);
      if (id === undefined) {
        if (this.options.strategy === 'topic') this.checkOneRecordPerTopic(record.topic, schema);
        id = await this.idOf(subject, schema);
      }
      let byRecord = this.idsByTopic.get(record.topic);
      if (byRecord === undefined)
        this.idsByTopic.set(record.topic, (byRecord = new Map<AvroSchema, number>()));
      byRecord.set(schema, id);
      value!.writeUInt32BE(id, 1);
      this.blank.delete(value!);
      this.blanks--;
    }
  }

  private checkOneRecordPerTopic(topic: string, schema: AvroSchema): void {
    if (this.options.strategy !== 'topic') return;
    const other = this.recordOfTopic.get(topic);
    if (other === undefined) this.recordOfTopic.set(topic, schema.fullName);
    else if (other !== schema.fullName)
      throw new RelayError(
        'SCHEMA_REGISTRY',
        `SCHEMA_REGISTRY_SUBJECT_STRATEGY=topic names one subject per topic (${topic}-value), but topic ${topic} carries ${other} and ${schema.fullName}; use SCHEMA_REGISTRY_SUBJECT_STRATEGY=topic-record (or record), or route event types to their own topics with {type} in TOPIC_TEMPLATE`,
        { context: { topic, schemas: `${other},${schema.fullName}` } },
      );
  }

  /** The schema's id under `subject`: registered (auto-register) or looked up, then cached. */
  private async idOf(subject: string, schema: AvroSchema): Promise<number> {
    const cached = this.ids.get(subject);
    if (cached !== undefined) return cached;
    const context = { subject, schema: schema.fullName, file: schema.file };
    let id: number | undefined;
    try {
      id = this.options.autoRegister
        ? await this.client.register(subject, schema.text)
        : await this.client.lookup(subject, schema.text);
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      if (err.status === 409) {
        const level = await this.client.compatibility(subject).catch(() => undefined);
        throw new RelayError(
          'SCHEMA_REGISTRY',
          `the schema registry refused ${schema.file} (${schema.fullName}) under subject ${subject}: incompatible with the versions registered there (compatibility ${level ?? 'unknown'}; registry: ${err.message}). Make the change compatible (e.g. give new fields a default), or register the schema under a new subject`,
          { cause: err, context: { ...context, compatibility: level } },
        );
      }
      throw registryFailure(err, `registering ${schema.file} under subject ${subject}`, context);
    }
    if (id === undefined)
      throw new RelayError(
        'SCHEMA_REGISTRY',
        `SCHEMA_REGISTRY_AUTO_REGISTER=false: subject ${subject} has no version equal to ${schema.file} (${schema.fullName}); register it there, or set SCHEMA_REGISTRY_AUTO_REGISTER=true`,
        { context },
      );
    this.ids.set(subject, id);
    this.log.info({ ...context, id }, 'schema id resolved');
    return id;
  }

  private async registry<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof RegistryError) throw registryFailure(err, what, {});
      throw err;
    }
  }
}

/** A registry failure as a RelayError: retriable when the registry may answer later. */
function registryFailure(
  err: RegistryError,
  what: string,
  context: Record<string, string>,
): RelayError {
  const credentials =
    err.status === 401 || err.status === 403
      ? ': check SCHEMA_REGISTRY_USERNAME / SCHEMA_REGISTRY_PASSWORD and the account’s rights'
      : '';
  return new RelayError(
    'SCHEMA_REGISTRY',
    `schema registry: ${what} failed (${err.message})${credentials}`,
    { cause: err, retriable: err.retriable, context },
  );
}
