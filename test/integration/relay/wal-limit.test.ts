import { PostgresServer } from '../../harness/postgres';
import { readTopic } from '../../helpers/kafka';
import {
  createOutboxTable,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testKafkaBrokers } from '../../helpers/services';
import { waitFor } from '../../helpers/wait-for';

// Its own PostgreSQL with a small max_slot_wal_keep_size, so invalidating a slot disturbs no one.
describe('relay: slot invalidated by max_slot_wal_keep_size', () => {
  let pg: PostgresServer;

  beforeAll(async () => {
    pg = await PostgresServer.start({
      settings: {
        max_slot_wal_keep_size: '16MB',
        max_wal_size: '32MB',
        min_wal_size: '32MB',
        track_commit_timestamp: 'on',
      },
    });
  });

  afterAll(async () => {
    await pg?.destroy();
  });

  it('exits 1 with SLOT_INVALID once the server gave up WAL the slot needed; ON_SLOT_GAP=replay replaces the slot and repairs the gap', async () => {
    const names = outboxNames('walimit');
    await createOutboxTable(pg.url, names.table);
    const env = relayEnv(names, { DATABASE_URL: pg.url });
    const first = new RelayProcess(env);
    await first.waitUntilStreaming();
    await withSql(pg.url, (sql) =>
      insertRows(sql, names.table, [outboxRow('ledger', 'l-1', 'Opened', {})]),
    );
    await readTopic(testKafkaBrokers(), `${names.topicPrefix}.ledger`, { count: 1 });
    expect(await first.stop()).toBe(0); // its last position is recorded on the way out
    // Written while the relay is down: only the slot could have carried it.
    await withSql(pg.url, (sql) =>
      insertRows(sql, names.table, [outboxRow('ledger', 'l-2', 'Opened', {})]),
    );

    // While the relay is down, other tables write far more WAL than the slot may keep.
    const status = await waitFor(
      () =>
        withSql(pg.url, async (sql) => {
          await sql.query(`create table if not exists filler (id int, v text)`);
          await sql.query(
            `insert into filler select g, repeat(md5(g::text), 30) from generate_series(1, 20000) g`,
          );
          await sql.query('select pg_switch_wal()');
          await sql.query('checkpoint');
          const { rows } = await sql.query<{ wal_status: string | null }>(
            'select wal_status from pg_replication_slots where slot_name = $1',
            [names.slot],
          );
          return rows[0]?.wal_status === 'lost' ? rows[0].wal_status : undefined;
        }),
      { timeoutMs: 60_000, description: 'the server to invalidate the slot' },
    );
    expect(status).toBe('lost');

    const second = new RelayProcess(env);
    expect(await second.exited).toBe(1);
    const fatal = second.logs.find((l) => l.level === 'fatal');
    expect(fatal?.code).toBe('SLOT_INVALID');
    expect(fatal?.msg).toContain(`replication slot ${names.slot} was invalidated`);
    expect(fatal?.msg).toContain('exceeded the maximum reserved size');
    // Each start-up attempt failed the same way at once: no retry loop.
    expect(second.logs.filter((l) => l.code === 'REPLICATION_LOST')).toEqual([]);

    // ON_SLOT_GAP=replay: the lost slot is replaced and the rows of the gap re-published
    // (commit times from track_commit_timestamp).
    const third = new RelayProcess({ ...env, ON_SLOT_GAP: 'replay' });
    try {
      await third.waitUntilStreaming();
      expect(third.logs.some((l) => /invalidated by PostgreSQL/.test(l.msg))).toBe(true);
      expect(third.logs.find((l) => l.code === 'SLOT_GAP')?.level).toBe('error');
      await withSql(pg.url, (sql) =>
        insertRows(sql, names.table, [outboxRow('ledger', 'l-3', 'Opened', {})]),
      );
      const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.ledger`, {
        count: 3,
        settleMs: 1000,
        distinctIds: 3,
      });
      expect([...new Set(records.map((r) => r.key))].sort()).toEqual(['l-1', 'l-2', 'l-3']);
    } finally {
      expect(await third.stop()).toBe(0);
    }
  });
});
