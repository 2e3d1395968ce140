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
      settings: { max_slot_wal_keep_size: '16MB', max_wal_size: '32MB', min_wal_size: '32MB' },
    });
  });

  afterAll(async () => {
    await pg?.destroy();
  });

  it('exits 1 with SLOT_INVALID once the server gave up WAL the slot needed', async () => {
    const names = outboxNames('walimit');
    await createOutboxTable(pg.url, names.table);
    const env = relayEnv(names, { DATABASE_URL: pg.url });
    const first = new RelayProcess(env);
    await first.waitUntilStreaming();
    await withSql(pg.url, (sql) =>
      insertRows(sql, names.table, [outboxRow('ledger', 'l-1', 'Opened', {})]),
    );
    await readTopic(testKafkaBrokers(), `${names.topicPrefix}.ledger`, { count: 1 });
    first.kill('SIGKILL');
    await first.exited;

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
  });
});
