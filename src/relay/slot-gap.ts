import type { Kafka } from 'kafkajs';
import type { Client } from 'pg';
import type { Logger } from 'pino';
import type { PublishedPosition } from '../ack/published-position';
import type { Config } from '../config/load';
import { describeError, RelayError } from '../errors';
import type { RecordMapper } from '../kafka/record-mapper';
import { SlotPositions } from '../kafka/slot-positions';
import { positionTopicOptions } from '../delivery/delivery';
import { hostname } from 'node:os';
import type { RelayOps } from '../ops/relay-ops';
import { formatLsn } from '../replication/lsn';
import type { SlotState } from '../replication/preflight';
import { replay } from '../replay/replay';
import { initialBackfill } from './backfill';
import { Checkpoints } from './checkpoints';

export interface SlotGuardDeps {
  config: Config;
  log: Logger;
  ops: RelayOps;
  records: RecordMapper;
  kafka: () => Kafka;
  withSql<T>(fn: (sql: Client) => Promise<T>): Promise<T>;
  signal: AbortSignal;
}

const iso = (us: bigint | undefined) =>
  us === undefined ? null : new Date(Number(us / 1000n)).toISOString();

type SlotGapDeps = SlotGuardDeps & { positions: SlotPositions };

/**
 * Guards the slot through the position topic: at start-up, a lost slot is reported and handled
 * (checkSlotGap); while streaming, at-least-once records checkpoints (exactly-once records its
 * positions in its Kafka transactions).
 */
export class SlotGuard {
  private constructor(
    private readonly positions: SlotPositions | undefined,
    private readonly checkpoints: Checkpoints | undefined,
  ) {}

  static async open(
    deps: SlotGuardDeps,
    guarantee: 'at-least-once' | 'exactly-once',
    slot: SlotState,
  ): Promise<SlotGuard> {
    const kafka = deps.kafka();
    const { config } = deps;
    const positions = await openSlotPositions(kafka, config, guarantee, deps.log);
    if (positions === undefined) {
      if (config.snapshotMode === 'initial' && slot.snapshot !== undefined)
        throw new RelayError(
          'SNAPSHOT_FAILED',
          `SNAPSHOT_MODE=initial needs the position topic ${config.positionTopic} to mark the backfill until it finished; grant the relay Create, Describe, Read and Write on it`,
        );
      return new SlotGuard(undefined, undefined);
    }
    try {
      const needed =
        slot.created === true || config.onSlotGap === 'replay' || config.snapshotMode === 'initial';
      const last = needed ? await positions.read() : undefined;
      await checkSlotGap({ ...deps, positions }, slot, last);
      await initialBackfill({ ...deps, positions }, slot, last);
    } catch (err) {
      await slot.snapshot?.release();
      await positions.disconnect();
      throw err;
    }
    // Not imported (no backfill, or a gap instead of a first start): let go of it.
    await slot.snapshot?.release();
    let checkpoints: Checkpoints | undefined;
    if (guarantee === 'at-least-once') {
      checkpoints = new Checkpoints(positions, deps.ops.state, deps.log);
      checkpoints.start();
    }
    return new SlotGuard(positions, checkpoints);
  }

  /** Records the final checkpoint and disconnects. */
  async close(): Promise<void> {
    await this.checkpoints?.stop();
    await this.positions?.disconnect();
  }
}

/**
 * Start-up check for a lost slot: the slot had to be created although the position topic holds
 * a published position for it, so the events committed in between never reached Kafka. Reports
 * the gap (log, `/`, `/readyz`, metric) and acts on ON_SLOT_GAP: `fail` drops the slot it just
 * created (every start reports the gap until someone acts) and throws SLOT_GAP; `warn` goes on;
 * `replay` re-publishes the outbox rows of the gap first. A repair that did not finish (a crash)
 * is marked in the position topic and repeated on the next start.
 */
async function checkSlotGap(
  deps: SlotGapDeps,
  slot: SlotState,
  last: PublishedPosition | undefined,
): Promise<void> {
  const { config, log, ops } = deps;
  if (last === undefined) return; // a first start is no gap
  let repairFromUs: bigint;
  if (slot.created === true) {
    const gap = {
      lastPublishedLsn: formatLsn(last.lsn),
      lastPublishedCommitTime: iso(last.commitTimeUs),
      newSlotLsn: formatLsn(slot.confirmedFlushLsn),
      action: config.onSlotGap,
      repaired: false,
    };
    ops.state.slotGap = gap;
    const error = new RelayError(
      'SLOT_GAP',
      `replication slot ${config.slotName} was lost: the last published position is ${gap.lastPublishedLsn} (commit time ${gap.lastPublishedCommitTime ?? 'unknown'}), the new slot starts at ${gap.newSlotLsn}; events committed in between never reached Kafka`,
      {
        context: {
          slot: config.slotName,
          lastPublishedLsn: gap.lastPublishedLsn,
          lastPublishedCommitTime: gap.lastPublishedCommitTime ?? undefined,
          newSlotLsn: gap.newSlotLsn,
        },
      },
    );
    ops.error(error);
    if (config.onSlotGap === 'fail') {
      await dropSlot(deps);
      throw new RelayError(
        'SLOT_GAP',
        `${error.message}. ON_SLOT_GAP=fail: stopping (the new slot was dropped again). Re-publish the gap with outbox-relay replay --from <last commit time>, then start with ON_SLOT_GAP=warn once; or start with ON_SLOT_GAP=replay`,
        { context: error.context },
      );
    }
    log.error({ code: error.code, ...gap }, error.message);
    if (config.onSlotGap === 'warn') return;
    repairFromUs = (last.commitTimeUs ?? 0n) - BigInt(config.slotGapReplayMarginMs) * 1000n;
    try {
      await deps.positions.write({ ...last, repairFromUs });
    } catch (err) {
      await dropSlot(deps);
      throw err;
    }
  } else if (last.repairFromUs !== undefined) {
    repairFromUs = last.repairFromUs;
    log.warn(
      { slot: config.slotName, from: iso(repairFromUs) },
      'a slot-gap repair did not finish before the relay stopped: repeating it',
    );
  } else {
    return;
  }
  await repair(deps, slot, last, repairFromUs);
}

async function repair(
  deps: SlotGapDeps,
  slot: SlotState,
  last: PublishedPosition,
  repairFromUs: bigint,
): Promise<void> {
  const { config, log, ops, positions } = deps;
  const from = repairFromUs > 0n ? new Date(Number(repairFromUs / 1000n)) : undefined;
  log.info(
    { slot: config.slotName, from: from?.toISOString() ?? '(all rows)' },
    'ON_SLOT_GAP=replay: re-publishing the outbox rows of the gap before streaming',
  );
  const startedUs = BigInt(Date.now()) * 1000n;
  let result;
  try {
    result = await replay(
      config,
      deps.records,
      { from },
      { dryRun: false, signal: deps.signal },
      deps.kafka,
      log,
    );
  } catch (err) {
    throw new RelayError(
      'SLOT_GAP',
      `ON_SLOT_GAP=replay could not re-publish the gap (${describeError(err)}); it is repeated on the next start`,
      { cause: err, context: { slot: config.slotName } },
    );
  }
  if (result.interrupted) return; // stopping: the marker stays, the next start repeats it
  await positions.write({
    lsn: slot.confirmedFlushLsn > last.lsn ? slot.confirmedFlushLsn : last.lsn,
    commitTimeUs: startedUs,
  });
  if (ops.state.slotGap !== undefined) ops.state.slotGap.repaired = true;
  log.info(
    {
      slot: config.slotName,
      published: result.published - result.deadLettered,
      deadLettered: result.deadLettered,
      replay: result.runId,
    },
    'slot gap repaired: the outbox rows of the gap were re-published',
  );
}

async function dropSlot(deps: SlotGapDeps): Promise<void> {
  await deps
    .withSql((sql) =>
      sql.query(
        'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1',
        [deps.config.slotName],
      ),
    )
    .catch((err: unknown) =>
      deps.log.warn(
        { slot: deps.config.slotName, error: describeError(err) },
        'could not drop the new slot again',
      ),
    );
}

/**
 * The position topic for slot-gap detection and checkpoints. Exactly-once cannot run without it;
 * at-least-once goes on without it (e.g. no ACLs for it), saying what that costs.
 */
async function openSlotPositions(
  kafka: Kafka,
  config: Config,
  guarantee: 'at-least-once' | 'exactly-once',
  log: Logger,
): Promise<SlotPositions | undefined> {
  const positions = new SlotPositions(
    kafka,
    config.slotName,
    positionTopicOptions(config),
    `${hostname()}/${process.pid}`,
    log,
  );
  try {
    await positions.connect();
    return positions;
  } catch (err) {
    await positions.disconnect();
    if (guarantee === 'exactly-once') throw err;
    log.warn(
      { positionTopic: config.positionTopic, error: describeError(err) },
      'slot-gap detection is off: the position topic cannot be used (grant the relay Create, Describe, Read and Write on it); a lost slot would go unnoticed',
    );
    return undefined;
  }
}
