import { topicProblem } from '../kafka/topic-name';
import { customOption, enumOption, intOption } from './option';

function parseTopic(raw: string): string {
  const value = raw.trim();
  const problem = topicProblem(value);
  if (problem !== undefined) throw new Error(problem);
  return value;
}

function parseTransactionalId(raw: string): string {
  const value = raw.trim();
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(value)) {
    throw new Error(`must be 1-200 ASCII letters, digits, '.', '_' or '-', got "${raw}"`);
  }
  return value;
}

/** At-least-once or exactly-once delivery, and the Kafka transactions behind the latter. */
export const DELIVERY_OPTIONS = {
  deliveryGuarantee: enumOption({
    env: 'DELIVERY_GUARANTEE',
    group: 'Delivery',
    description:
      '`at-least-once`: an idempotent producer; after a crash the events not yet confirmed to PostgreSQL are published again (consumers drop duplicates by the `id` header). `exactly-once`: Kafka transactions fenced per slot, with the published position in `POSITION_TOPIC`: a `read_committed` consumer sees every event once, across crashes and takeovers (see the README, Exactly-once delivery).',
    default: 'at-least-once',
    values: ['at-least-once', 'exactly-once'] as const,
  }),
  kafkaTransactionalId: customOption({
    env: 'KAFKA_TRANSACTIONAL_ID',
    group: 'Delivery',
    description:
      'Exactly-once: prefix of the two transactional ids the relay takes turns on (`<prefix>.0`, `<prefix>.1`). Every instance of one slot (active and standbys) must share it, so the instance that takes the slot over fences the one before it; different slots need different prefixes.',
    parse: parseTransactionalId,
    default: undefined,
    defaultText: '`outbox-relay.<SLOT_NAME>`',
  }),
  positionTopic: customOption({
    env: 'POSITION_TOPIC',
    group: 'Delivery',
    description:
      "Topic holding each slot's last published position (key: the slot name). Exactly-once writes it in the same Kafka transaction as the events and reads it with `read_committed` whenever a streaming session starts; at-least-once writes a checkpoint every 5 s and on shutdown. Read at start-up to tell a lost slot from a first start (`ON_SLOT_GAP`). Created if missing with one partition and `cleanup.policy=compact`.",
    parse: parseTopic,
    default: 'outbox-relay.positions',
  }),
  kafkaTransactionIntervalMs: intOption({
    env: 'KAFKA_TRANSACTION_INTERVAL_MS',
    group: 'Delivery',
    description:
      'Exactly-once: the longest a Kafka transaction stays open while events keep coming. A transaction also commits as soon as nothing more is ready to send, and holds at most half of `MAX_IN_FLIGHT_EVENTS` / `MAX_IN_FLIGHT_BYTES` of one WAL transaction (a larger WAL transaction is split across Kafka transactions).',
    default: 100,
    min: 1,
    max: 60_000,
  }),
  kafkaTransactionTimeoutMs: intOption({
    env: 'KAFKA_TRANSACTION_TIMEOUT_MS',
    group: 'Delivery',
    description:
      "Exactly-once: `transaction.timeout.ms` of the producer: the broker aborts a transaction left open this long (a relay that died mid-transaction). Must not exceed the broker's `transaction.max.timeout.ms` (15 minutes by default); the relay names it at start-up if it does.",
    default: 60_000,
    min: 1_000,
    max: 3_600_000,
  }),
};
