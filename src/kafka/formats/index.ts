import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { TopicTemplate } from '../topic-name';
import { AvroFormat } from './avro';
import { AvroRegistryFormat, type SubjectStrategy } from './avro-registry';
import { AvroSchemas } from './avro-schemas';
import { RegistryClient } from './registry-client';
import { CloudEventsFormat } from './cloudevents';
import { JsonFormat } from './json';
import type { EnvelopeField, ValueFormat } from './value-format';

export interface FormatOptions {
  /** Columns placed into the JSON value's envelope. */
  envelope: readonly EnvelopeField[];
  /** CloudEvents `source` attribute. */
  cloudEventsSource: string;
  /** Directory of `.avsc` schemas (avro). */
  avroSchemaDir: string | undefined;
  /** A Confluent-compatible schema registry (avro: the Confluent wire format). */
  registry?: RegistryOptions | undefined;
  log: Logger;
}

export interface RegistryOptions {
  url: string;
  strategy: SubjectStrategy;
  autoRegister: boolean;
  username?: string | undefined;
  password?: string | undefined;
  caFile?: string | undefined;
  timeoutMs: number;
  topicTemplate: TopicTemplate;
}

function registryClient(options: RegistryOptions): RegistryClient {
  let ca: string | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = readFileSync(options.caFile, 'utf8');
    } catch (err) {
      throw new Error(
        `SCHEMA_REGISTRY_CA_FILE ${options.caFile} cannot be read: ${(err as Error).message}`,
      );
    }
  }
  return new RegistryClient({ ...options, ca });
}

/** Every VALUE_FORMAT, by name: how to build it. Builders throw an Error saying what is wrong. */
const BUILDERS = {
  json: (options: FormatOptions) => new JsonFormat(options.envelope),
  cloudevents: (options: FormatOptions) => new CloudEventsFormat(options.cloudEventsSource),
  avro: (options: FormatOptions) => {
    if (options.avroSchemaDir === undefined)
      throw new Error('AVRO_SCHEMA_DIR is required with VALUE_FORMAT=avro');
    const schemas = AvroSchemas.load(options.avroSchemaDir);
    const { registry } = options;
    if (registry === undefined) return new AvroFormat(schemas);
    return new AvroRegistryFormat(
      schemas,
      registryClient(registry),
      registry,
      options.log.child({ module: 'schema-registry' }),
    );
  },
} satisfies Record<string, (options: FormatOptions) => ValueFormat>;

export type ValueFormatName = keyof typeof BUILDERS;

export const VALUE_FORMAT_NAMES = Object.keys(BUILDERS) as ValueFormatName[];

export function buildValueFormat(name: ValueFormatName, options: FormatOptions): ValueFormat {
  return BUILDERS[name](options);
}

export type { ValueFormat } from './value-format';
