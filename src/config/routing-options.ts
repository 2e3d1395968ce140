import { TopicTemplate } from '../kafka/topic-name';
import { customOption } from './option';

/** Where an additional outbox column goes (Debezium's `table.fields.additional.placement`). */
export type Placement = 'header' | 'envelope' | 'partition';

export interface AdditionalField {
  column: string;
  placement: Placement;
  /** Header name or envelope member; the column's name unless given. */
  alias: string;
}

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ALIAS = /^[A-Za-z0-9._-]{1,100}$/;
const PLACEMENTS: readonly Placement[] = ['header', 'envelope', 'partition'];

function parseAdditionalFields(raw: string): AdditionalField[] {
  const fields = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map((entry) => {
      const [column = '', placement = '', alias = column, ...rest] = entry
        .split(':')
        .map((p) => p.trim());
      if (
        rest.length > 0 ||
        !COLUMN.test(column) ||
        !PLACEMENTS.includes(placement as Placement) ||
        !ALIAS.test(alias)
      ) {
        throw new Error(
          `entry "${entry}" must be column:placement[:alias] with placement header, envelope or partition`,
        );
      }
      return { column, placement: placement as Placement, alias };
    });
  if (fields.filter((f) => f.placement === 'partition').length > 1)
    throw new Error('may place at most one column as the partition');
  return fields;
}

/** How events are routed: topic, key, and columns placed beside the payload. */
export const ROUTING_OPTIONS = {
  topicTemplate: customOption({
    env: 'TOPIC_TEMPLATE',
    group: 'Kafka',
    description:
      "Topic for each event. Placeholders: `{aggregateType}`, `{aggregateId}`, `{type}` (the event's fields, whatever their columns are called) and `{column}` for any other outbox column (table-less: any top-level member of the message), e.g. `{tenant}.outbox.{aggregateType}`. An event whose placeholder has no value, or whose topic Kafka would reject, is dead-lettered (`INVALID_TOPIC`).",
    parse: (raw) => TopicTemplate.parse(raw),
    default: TopicTemplate.parse('outbox.event.{aggregateType}'),
    defaultText: '`outbox.event.{aggregateType}`',
  }),
  keyColumn: customOption<string | undefined>({
    env: 'OUTBOX_KEY_COLUMN',
    group: 'Outbox',
    description:
      "Column whose value is the record key (Debezium's `table.field.event.key`); Kafka partitions by it, so per-key order holds. A NULL value gives a record without a key.",
    parse: (raw) => {
      const value = raw.trim();
      if (!COLUMN.test(value)) throw new Error(`must be a column name, got "${raw}"`);
      return value;
    },
    default: undefined,
    defaultText: '(the aggregate id)',
  }),
  additionalFields: customOption({
    env: 'OUTBOX_ADDITIONAL_FIELDS',
    group: 'Outbox',
    description:
      'Further columns placed beside the payload (Debezium\'s `table.fields.additional.placement`), comma-separated `column:placement[:alias]`: `header` (a record header named alias; same as `OUTBOX_HEADER_COLUMNS`), `envelope` (the JSON value becomes `{"payload": ..., "<alias>": "<value>"}`; `VALUE_FORMAT=json` only) or `partition` (the record\'s partition, a whole number below the topic\'s partition count; otherwise dead-lettered as `INVALID_PARTITION`).',
    parse: parseAdditionalFields,
    default: [],
    defaultText: '(none)',
  }),
};
