import type { Kafka } from 'kafkajs';
import { loadConfig, type Config } from '../config/load';
import { createKafka } from '../kafka/client';
import { kafkaSecurity, type KafkaSecurity } from '../kafka/security';
import type { KafkaLogTap, Logger } from '../logger';

/** Exit codes of every command: documented in the README's operations section. */
export const EXIT = { OK: 0, FATAL: 1, CONFIG: 2 } as const;

/** What a command needs from the environment besides the options with defaults. */
export type Needed = 'DATABASE_URL' | 'KAFKA_BROKERS';

/** Configuration and Kafka security, read and checked once; the start of every command. */
export interface Bootstrap {
  config: Config;
  security: KafkaSecurity;
  /** The Kafka client for this configuration. */
  kafka(log: Logger, tap?: KafkaLogTap): Kafka;
}

/**
 * Reads the configuration (the relay needs both addresses; a CLI command only those in `needed`:
 * a missing other one is filled with a placeholder the command never connects to) and the Kafka
 * security files. Throws a CONFIG_INVALID RelayError (exit code `EXIT.CONFIG`).
 */
export function bootstrap(
  env: NodeJS.ProcessEnv,
  needed: readonly Needed[] = ['DATABASE_URL', 'KAFKA_BROKERS'],
): Bootstrap {
  const filled: NodeJS.ProcessEnv = { ...env };
  if (!needed.includes('DATABASE_URL') && !hasAddress(env, 'DATABASE_URL'))
    filled.DATABASE_URL = 'postgres://unused.invalid/postgres';
  if (!needed.includes('KAFKA_BROKERS') && !hasAddress(env, 'KAFKA_BROKERS'))
    filled.KAFKA_BROKERS = 'unused.invalid:9092';
  const config = loadConfig(filled);
  const security = kafkaSecurity(config);
  return { config, security, kafka: (log, tap) => createKafka(config, security, log, tap) };
}

/** Whether the user gave this address (rather than the placeholder). */
export function hasAddress(env: NodeJS.ProcessEnv, name: Needed): boolean {
  return (env[name] ?? '').trim() !== '';
}
