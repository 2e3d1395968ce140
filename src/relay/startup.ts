import type { Logger } from 'pino';
import type { Config } from '../config/load';
import { toRelayError } from '../errors';
import type { RelayOps } from '../ops/relay-ops';
import { createSlotWithSnapshot } from '../replication/exported-snapshot';
import { preflight, type SlotState } from '../replication/preflight';
import { retryUntil } from '../retry/backoff';
import { withDatabase } from './database';
import { preflightOptions } from './from-config';

/** What start-up steps report to and stop on. */
export interface StartupDeps {
  config: Config;
  log: Logger;
  ops: RelayOps;
  /** Aborted when the relay is asked to stop: retrying ends (with undefined). */
  signal: AbortSignal;
}

/**
 * The database side of a start (and of every reconnect): server settings, publication and the
 * slot, created when `createSlot` and missing (with an exported snapshot for
 * SNAPSHOT_MODE=initial), replaced when lost and ON_SLOT_GAP allows it.
 */
export function checkSlot(config: Config, log: Logger, createSlot: boolean): Promise<SlotState> {
  return withDatabase(config.databaseUrl, (sql) =>
    preflight(
      sql,
      {
        ...preflightOptions(config, createSlot),
        replaceLostSlot: config.onSlotGap !== 'fail',
        createSlotWithSnapshot:
          createSlot && config.snapshotMode === 'initial'
            ? () => createSlotWithSnapshot(config.databaseUrl, config.slotName, log)
            : undefined,
      },
      log.child({ module: 'preflight' }),
    ),
  );
}

/**
 * Start-up: retries retriable failures of `fn` until `deadline` (logging each), then fails with
 * the last error; undefined when the relay was asked to stop meanwhile.
 */
export async function retryAtStartup<T>(
  { config, log, ops, signal }: StartupDeps,
  deadline: number,
  what: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const asRelayError = (err: unknown) =>
    toRelayError(err, what === 'Kafka' ? 'KAFKA_SEND' : 'PG_UNREACHABLE');
  try {
    return await retryUntil(fn, {
      deadline,
      initialMs: config.retryInitialMs,
      maxMs: config.retryMaxMs,
      signal,
      retriable: (err) => asRelayError(err).retriable,
      onRetry: (err, attempt, delayMs) => {
        const error = asRelayError(err);
        ops.error(error, 'startup');
        log.warn(
          { code: error.code, attempt, delayMs },
          `${what} not ready at start-up: ${error.message}; retrying`,
        );
      },
    });
  } catch (err) {
    const error = asRelayError(err);
    ops.error(error);
    throw error;
  }
}
