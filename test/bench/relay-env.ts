import type { KafkaServer } from '../harness/kafka';
import type { PostgresServer } from '../harness/postgres';

/** The relay's environment for a bench workload: the settings users get by default. */
export function relayEnvFor(pg: PostgresServer, kafka: KafkaServer, table: string, slot: string) {
  return {
    DATABASE_URL: pg.url,
    KAFKA_BROKERS: kafka.brokers,
    OUTBOX_TABLE: table,
    SLOT_NAME: slot,
    PUBLICATION_NAME: `${table}_pub`,
    TOPIC_TEMPLATE: `${table}.{aggregateType}`,
    TOPIC_PARTITIONS: '6',
    LOG_LEVEL: 'info',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
  };
}
