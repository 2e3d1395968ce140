import { loadConfig, type Config } from '../config/load';

/** What a command needs from the environment besides the options with defaults. */
export type Needed = 'DATABASE_URL' | 'KAFKA_BROKERS';

/**
 * The configuration for a CLI command: the same variables as the relay, but a command that does
 * not use PostgreSQL (or Kafka) does not require its address. Such a missing address is filled
 * with a placeholder the command never connects to.
 */
export function commandConfig(env: NodeJS.ProcessEnv, needed: readonly Needed[]): Config {
  const filled: NodeJS.ProcessEnv = { ...env };
  const unset = (name: Needed) => (env[name] ?? '').trim() === '';
  if (!needed.includes('DATABASE_URL') && unset('DATABASE_URL'))
    filled.DATABASE_URL = 'postgres://unused.invalid/postgres';
  if (!needed.includes('KAFKA_BROKERS') && unset('KAFKA_BROKERS'))
    filled.KAFKA_BROKERS = 'unused.invalid:9092';
  return loadConfig(filled);
}

/** Whether the user gave this address (rather than the placeholder). */
export function hasAddress(env: NodeJS.ProcessEnv, name: Needed): boolean {
  return (env[name] ?? '').trim() !== '';
}
