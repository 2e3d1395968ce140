import { enumOption, intOption } from './option';

/** What happens when the replication slot was lost since the last published position. */
export const RECOVERY_OPTIONS = {
  snapshotMode: enumOption({
    env: 'SNAPSHOT_MODE',
    group: 'Recovery',
    description:
      "`initial`: when the relay creates its slot, it first publishes the rows already in the outbox table, read in the snapshot exported with the slot (no row both backfilled and streamed, none in neither), then streams. `never` (default): rows written before the slot existed are not published — usually right, since an outbox table's old rows are events other means already delivered or that the application deletes after publishing; use `initial` to adopt a table whose rows were never published, or `outbox-relay replay` for a chosen range.",
    default: 'never',
    values: ['never', 'initial'] as const,
  }),
  onSlotGap: enumOption({
    env: 'ON_SLOT_GAP',
    group: 'Recovery',
    description:
      'The slot is missing at start-up although the position topic holds a published position for it (dropped, re-created, lost in a failover): events committed in between never reached Kafka. `fail` stops with `SLOT_GAP` (and leaves no new slot, so every start says so until you act); `replay` re-publishes the outbox rows from the last published commit time (minus `SLOT_GAP_REPLAY_MARGIN_MS`) before streaming; `warn` logs the gap and streams on. See [Recovering and re-publishing events](#recovering-and-re-publishing-events).',
    default: 'fail',
    values: ['fail', 'replay', 'warn'] as const,
  }),
  slotGapReplayMarginMs: intOption({
    env: 'SLOT_GAP_REPLAY_MARGIN_MS',
    group: 'Recovery',
    description:
      'With `ON_SLOT_GAP=replay`: how far before the last published commit time the repair starts. Row times from `OUTBOX_COLUMN_TIMESTAMP` default to `now()`, the start of the writing transaction, so a transaction that committed after the last published one may carry an earlier time by up to its own duration: the margin covers transactions up to this long. The rows in the margin are published again (consumers deduplicate by `id`).',
    default: 300_000,
    min: 0,
    max: 7 * 24 * 3_600_000,
  }),
};
