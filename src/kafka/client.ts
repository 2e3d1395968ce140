import { Kafka } from 'kafkajs';
import { kafkaLogCreator, type KafkaLogTap, type Logger } from '../logger';
import type { KafkaSecurity } from './security';

export interface KafkaClientOptions {
  kafkaClientId: string;
  kafkaBrokers: readonly string[];
  retryInitialMs: number;
  retryMaxMs: number;
}

/** The kafkajs client for the configured brokers, security and retry settings. */
export function createKafka(
  config: KafkaClientOptions,
  security: KafkaSecurity,
  log: Logger,
  tap?: KafkaLogTap,
): Kafka {
  return new Kafka({
    clientId: config.kafkaClientId,
    brokers: [...config.kafkaBrokers],
    logCreator: kafkaLogCreator(log, tap),
    connectionTimeout: 5_000,
    ...security,
    // Few quick retries inside kafkajs; the publisher retries without limit on top, logging
    // each failure. kafkajs nests its retries (cluster connect inside send), so its defaults
    // would hide an outage for minutes before we could say anything.
    retry: { retries: 2, initialRetryTime: config.retryInitialMs, maxRetryTime: config.retryMaxMs },
  });
}
