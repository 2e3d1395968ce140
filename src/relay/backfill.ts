import type { PublishedPosition } from '../ack/published-position';
import { describeError, RelayError } from '../errors';
import type { SlotPositions } from '../kafka/slot-positions';
import type { SlotState } from '../replication/preflight';
import { replay } from '../replay/replay';
import type { SlotGuardDeps } from './slot-gap';

/**
 * SNAPSHOT_MODE=initial: on a first start (no position recorded for the slot), the rows already
 * in the outbox table are published before streaming, read in the snapshot exported with the
 * new slot: each row is either in the snapshot (committed before the slot's consistent point)
 * or streamed, never both, never neither. Streaming waits for the backfill, so per aggregate the
 * backfilled events come first; new rows wait in the slot meanwhile. The position topic marks the
 * backfill as pending until it finished: a start after a crash repeats it, reading the table as
 * it is then (rows written since are then published twice, same `id`).
 */
export async function initialBackfill(
  deps: SlotGuardDeps & { positions: SlotPositions },
  slot: SlotState,
  last: PublishedPosition | undefined,
): Promise<void> {
  const { config, log, positions } = deps;
  if (config.snapshotMode !== 'initial') return;
  let snapshot: { name: string; onImported(): Promise<void> } | undefined;
  if (slot.snapshot !== undefined && last === undefined) {
    const exported = slot.snapshot;
    snapshot = { name: exported.snapshotName, onImported: () => exported.release() };
    await positions.write({ lsn: slot.confirmedFlushLsn, snapshotPending: true });
  } else if (last?.snapshotPending === true) {
    log.warn(
      { slot: config.slotName },
      'SNAPSHOT_MODE=initial: the initial backfill did not finish before the relay stopped; repeating it from the table as it is now (rows written since are published twice)',
    );
  } else {
    return;
  }
  log.info(
    { slot: config.slotName },
    'SNAPSHOT_MODE=initial: publishing the rows already in the outbox table before streaming',
  );
  let result;
  try {
    result = await replay(
      config,
      deps.records,
      {},
      { dryRun: false, markReplayed: false, snapshot, signal: deps.signal },
      deps.kafka,
      log,
    );
  } catch (err) {
    throw new RelayError(
      'SNAPSHOT_FAILED',
      `SNAPSHOT_MODE=initial: the initial backfill failed (${describeError(err)}); it is repeated on the next start`,
      { cause: err, retriable: false, context: { slot: config.slotName } },
    );
  }
  if (result.interrupted) return; // stopping: still marked pending, repeated on the next start
  await positions.write({ lsn: slot.confirmedFlushLsn, commitTimeUs: BigInt(Date.now()) * 1000n });
  log.info(
    {
      slot: config.slotName,
      published: result.published - result.deadLettered,
      deadLettered: result.deadLettered,
      seconds: Math.round(result.elapsedMs / 100) / 10,
    },
    'SNAPSHOT_MODE=initial: initial backfill done; streaming',
  );
}
