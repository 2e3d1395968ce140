import { AvroFormat } from './avro';
import { AvroSchemas } from './avro-schemas';
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
}

/** Every VALUE_FORMAT, by name: how to build it. Builders throw an Error saying what is wrong. */
const BUILDERS = {
  json: (options: FormatOptions) => new JsonFormat(options.envelope),
  cloudevents: (options: FormatOptions) => new CloudEventsFormat(options.cloudEventsSource),
  avro: (options: FormatOptions) => {
    if (options.avroSchemaDir === undefined)
      throw new Error('AVRO_SCHEMA_DIR is required with VALUE_FORMAT=avro');
    return new AvroFormat(AvroSchemas.load(options.avroSchemaDir));
  },
} satisfies Record<string, (options: FormatOptions) => ValueFormat>;

export type ValueFormatName = keyof typeof BUILDERS;

export const VALUE_FORMAT_NAMES = Object.keys(BUILDERS) as ValueFormatName[];

export function buildValueFormat(name: ValueFormatName, options: FormatOptions): ValueFormat {
  return BUILDERS[name](options);
}

export type { ValueFormat } from './value-format';
