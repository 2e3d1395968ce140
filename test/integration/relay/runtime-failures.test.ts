import { readTopic } from '../../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  slotConfirmedLsn,
  walPosition,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

describe('relay: standby and unrecoverable states while running', () => {
  const url = testDatabaseUrl();

  it('waits as a standby while another instance holds the slot, and takes over when it dies', async () => {
    const names = outboxNames('standby');
    await createOutboxTable(url, names.table);
    const env = relayEnv(names, { SLOT_RETRY_INTERVAL_MS: '300' });
    const active = new RelayProcess(env);
    await active.waitUntilStreaming();
    const standby = new RelayProcess(env);
    try {
      await standby.waitForLog((l) => /waiting as a standby/.test(l.msg), 'standby notice');
      await withSql(url, (sql) =>
        insertRows(sql, names.table, [outboxRow('job', 'j-1', 'Queued', { n: 1 })]),
      );
      await readTopic(testKafkaBrokers(), `${names.topicPrefix}.job`, { count: 1 });

      active.kill('SIGKILL');
      await standby.waitUntilStreaming(30_000);
      await withSql(url, (sql) =>
        insertRows(sql, names.table, [outboxRow('job', 'j-1', 'Queued', { n: 2 })]),
      );
      const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.job`, {
        count: 2,
        settleMs: 500,
      });
      expect(records.map((r) => JSON.parse(r.value!.toString()) as unknown)).toEqual([
        { n: 1 },
        { n: 2 },
      ]);
      expect(await standby.stop()).toBe(0);
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('exits with OUTBOX_TABLE_MISSING when the outbox table is dropped', async () => {
    const names = outboxNames('droptable');
    await createOutboxTable(url, names.table);
    const relay = new RelayProcess(relayEnv(names));
    try {
      await relay.waitUntilStreaming();
      await withSql(url, (sql) => sql.query(`drop table ${names.table}`));
      // Noticed by the periodic source check (every 15 s).
      const fatal = await relay
        .waitForLog((l) => l.level === 'fatal', 'a fatal error', 40_000)
        .catch(() => undefined);
      expect(await relay.exited).toBe(1);
      expect(fatal?.code).toBe('OUTBOX_TABLE_MISSING');
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('exits with SLOT_DROPPED when the slot is dropped under it', async () => {
    const names = outboxNames('dropslot');
    await createOutboxTable(url, names.table);
    const relay = new RelayProcess(relayEnv(names, { RETRY_INITIAL_MS: '500' }));
    try {
      await relay.waitUntilStreaming();
      await withSql(url, async (sql) => {
        await sql.query(
          `select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1`,
          [names.slot],
        );
        for (let i = 0; i < 200; i++) {
          try {
            await sql.query(`select pg_drop_replication_slot($1)`, [names.slot]);
            return;
          } catch {
            await new Promise((r) => setTimeout(r, 10));
          }
        }
        throw new Error('could not drop the slot');
      });
      expect(await relay.exited).toBe(1);
      const fatal = relay.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('SLOT_DROPPED');
      expect(fatal?.msg).toContain('may be missing from Kafka');
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('failsOnInvalidRow with ON_INVALID_EVENT=fail: exits with EVENT_INVALID and confirms nothing past it', async () => {
    const names = outboxNames('badrow');
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (id uuid primary key, aggregatetype text, aggregateid text, type text, payload jsonb)`,
      ),
    );
    const relay = new RelayProcess(relayEnv(names, { ON_INVALID_EVENT: 'fail' }));
    try {
      await relay.waitUntilStreaming();
      await withSql(url, (sql) =>
        insertRows(sql, names.table, [outboxRow('job', 'j-1', 'Queued', {})]),
      );
      await readTopic(testKafkaBrokers(), `${names.topicPrefix}.job`, { count: 1 });
      // The slot may pass other tests' WAL, never the bad row's commit (which ends at or before
      // the WAL position read right after it).
      const afterBadRow = await withSql(url, async (sql) => {
        await sql.query(
          `insert into ${names.table} values (gen_random_uuid(), 'job', null, 'Queued', '{}')`,
        );
        return walPosition(sql);
      });
      expect(await relay.exited).toBe(1);
      expect(relay.logs.find((l) => l.level === 'fatal')).toMatchObject({
        code: 'EVENT_INVALID',
        reason: 'MISSING_AGGREGATE_ID',
      });
      const confirmed = await slotConfirmedLsn(url, names.slot);
      expect(confirmed < afterBadRow).toBe(true);
    } finally {
      await dropOutbox(url, names);
    }
  });
});
