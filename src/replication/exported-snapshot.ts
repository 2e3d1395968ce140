import type { Logger } from 'pino';
import { parseLsn, type Lsn } from './lsn';
import { openReplicationConnection } from './replication-stream';

/** A slot created together with a snapshot of the database at its consistent point. */
export interface SlotWithSnapshot {
  lsn: Lsn;
  /** For `SET TRANSACTION SNAPSHOT`: valid until `release` is called. */
  snapshotName: string;
  /** Ends the connection that holds the snapshot (after another transaction imported it). */
  release(): Promise<void>;
}

/**
 * Creates a logical slot over a replication connection with `EXPORT_SNAPSHOT`: a transaction
 * that imports the snapshot sees exactly the rows committed before the slot's consistent point,
 * and the slot streams exactly the ones after it. The snapshot lives while this connection stays
 * idle, so it must be imported before `release`.
 */
export async function createSlotWithSnapshot(
  databaseUrl: string,
  slotName: string,
  log: Logger,
): Promise<SlotWithSnapshot> {
  const client = await openReplicationConnection(
    databaseUrl,
    `outbox-relay snapshot ${slotName}`.slice(0, 63),
    log,
  );
  try {
    const { rows } = await client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT "${slotName.replace(/"/g, '""')}" LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = rows[0];
    if (row === undefined) throw new Error('CREATE_REPLICATION_SLOT returned no row');
    log.info(
      { slot: slotName, lsn: row.consistent_point, snapshot: row.snapshot_name },
      'created replication slot with an exported snapshot (SNAPSHOT_MODE=initial)',
    );
    let released: Promise<void> | undefined;
    return {
      lsn: parseLsn(row.consistent_point),
      snapshotName: row.snapshot_name,
      release: () => (released ??= client.end().catch(() => undefined)),
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}
