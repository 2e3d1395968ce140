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
import { testDatabaseUrl } from '../../helpers/services';
import { waitFor } from '../../helpers/wait-for';

describe('relay: HTTP endpoint, metrics and heartbeats', () => {
  const url = testDatabaseUrl();

  it('counts published events and dead letters, serves status, and lag returns to ~0', async () => {
    const names = outboxNames('metrics');
    await createOutboxTable(url, names.table);
    const relay = new RelayProcess(relayEnv(names, { HEARTBEAT_INTERVAL_MS: '300' }));
    try {
      await relay.waitUntilStreaming();
      expect((await relay.http('/healthz')).status).toBe(200);
      expect((await relay.http('/nothing-here')).status).toBe(404);
      const orders = Array.from({ length: 150 }, (_, i) =>
        outboxRow('order', `o-${i % 17}`, 'OrderPlaced', { i }),
      );
      const customers = Array.from({ length: 50 }, (_, i) =>
        outboxRow('customer', `c-${i % 5}`, 'CustomerRenamed', { i }),
      );
      const blank = Array.from({ length: 3 }, () => outboxRow('order', '', 'OrderPlaced', {}));
      await withSql(url, async (sql) => {
        await insertRows(sql, names.table, orders.slice(0, 100));
        await insertRows(sql, names.table, [...customers, ...blank]);
        await insertRows(sql, names.table, orders.slice(100));
      });
      const published = (m: Map<string, number>, topic: string) =>
        m.get(`outbox_relay_events_published_total{topic="${topic}"}`) ?? 0;
      const metrics = await waitFor(
        async () => {
          const m = await relay.metrics();
          return published(m, `${names.topicPrefix}.order`) >= 150 &&
            published(m, `${names.topicPrefix}.customer`) >= 50 &&
            published(m, 'outbox.dead-letter') >= 3
            ? m
            : undefined;
        },
        { timeoutMs: 30_000, description: 'published counters to reach the events written' },
      );
      expect(published(metrics, `${names.topicPrefix}.order`)).toBe(150);
      expect(published(metrics, `${names.topicPrefix}.customer`)).toBe(50);
      expect(published(metrics, 'outbox.dead-letter')).toBe(3);
      expect(metrics.get('outbox_relay_dead_letters_total{reason="MISSING_AGGREGATE_ID"}')).toBe(3);
      expect(metrics.get('outbox_relay_event_latency_seconds_count')).toBe(203);
      // One observation per transaction read with events in it: the three above.
      expect(metrics.get('outbox_relay_read_latency_seconds_count')).toBe(3);
      expect(metrics.get('outbox_relay_role{role="active"}')).toBe(1);
      expect(metrics.get('outbox_relay_role{role="standby"}')).toBe(0);
      expect(metrics.get('outbox_relay_ready')).toBe(1);
      expect(metrics.get('outbox_relay_process_resident_memory_bytes')).toBeGreaterThan(0);

      // Caught up: nothing in flight, and the slot's lag (server WAL minus confirmed) near zero.
      // Other tests write to the same database, so a sample may catch their WAL: poll for a low one.
      const caughtUp = await waitFor(
        async () => {
          const status = await relay.status();
          const m = await relay.metrics();
          const lag = m.get('outbox_relay_replication_lag_bytes');
          // status.lagBytes is null until the first sample (the gauge reads 0 meanwhile).
          return typeof status.lagBytes === 'number' &&
            lag !== undefined &&
            lag < 16_384 &&
            m.get('outbox_relay_in_flight_events') === 0
            ? { status, m }
            : undefined;
        },
        { timeoutMs: 30_000, description: 'replication lag to return to ~0' },
      );
      expect(caughtUp.m.get('outbox_relay_heartbeat_rtt_seconds')).toBeGreaterThan(0);
      expect(caughtUp.m.get('outbox_relay_confirmed_lsn')).toBeGreaterThan(0);
      expect(caughtUp.status).toMatchObject({
        role: 'active',
        ready: true,
        slot: names.slot,
        publication: names.publication,
        eventsPublished: 203,
        walStatus: 'reserved',
        lastError: null,
        kafkaReachable: true,
      });
      expect(caughtUp.status.confirmedLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      const lastCommit = Date.parse(String(caughtUp.status.lastEventCommitTime));
      expect(Math.abs(Date.now() - lastCommit)).toBeLessThan(60_000);
      expect(await relay.stop()).toBe(0);
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
    }
  });

  it('keeps the slot advancing while the outbox is idle and other tables are busy, and warns about retained WAL', async () => {
    const names = outboxNames('heartbeat');
    const busy = `${names.table}_busy`;
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => sql.query(`create table ${busy} (id serial primary key, v text)`));
    const relay = new RelayProcess(
      relayEnv(names, {
        HEARTBEAT_INTERVAL_MS: '500',
        // Far below what any slot retains: the warning must show up with the server's view.
        WAL_RETENTION_WARN_BYTES: '1',
      }),
    );
    try {
      await relay.waitUntilStreaming();
      const start = await withSql(url, walPosition);
      const confirmed: bigint[] = [];
      const retained: number[] = [];
      const until = Date.now() + 8_000;
      await withSql(url, async (sql) => {
        while (Date.now() < until) {
          await sql.query(
            `insert into ${busy} (v) select repeat('x', 200) from generate_series(1, 50)`,
          );
          confirmed.push(await slotConfirmedLsn(url, names.slot));
          const { rows } = await sql.query<{ retained: number }>(
            `select (pg_current_wal_lsn() - restart_lsn)::float8 as retained
               from pg_replication_slots where slot_name = $1`,
            [names.slot],
          );
          retained.push(rows[0]!.retained);
          await new Promise((r) => setTimeout(r, 250));
        }
      });
      // The confirmed position moved past the WAL written at the start, and kept moving.
      expect(confirmed[confirmed.length - 1]!).toBeGreaterThan(start);
      const advances = confirmed.filter((lsn, i) => i > 0 && lsn > confirmed[i - 1]!).length;
      expect(advances).toBeGreaterThanOrEqual(confirmed.length / 3);
      // Retained WAL stays bounded (the busy table wrote ~3 MB meanwhile).
      expect(Math.max(...retained)).toBeLessThan(64 * 1024 * 1024);

      const warning = await relay.waitForLog(
        (l) => l.level === 'warn' && /retains more WAL than WAL_RETENTION_WARN_BYTES/.test(l.msg),
        'the WAL retention warning',
      );
      expect(warning).toMatchObject({ walStatus: 'reserved', thresholdBytes: 1 });
      expect(typeof warning.retainedWalBytes).toBe('number');
      expect((await relay.status()).walRetentionWarning).toBe(true);
      const m = await relay.metrics();
      expect(m.get('outbox_relay_slot_retained_wal_bytes')).toBeGreaterThan(0);
      expect(m.get('outbox_relay_slot_wal_status{status="reserved"}')).toBe(1);
      expect(await relay.stop()).toBe(0);
    } finally {
      await relay.stop();
      await withSql(url, (sql) => sql.query(`drop table if exists ${busy}`));
      await dropOutbox(url, names);
    }
  });

  it('runs as the least-privilege role the README documents, heartbeats included', async () => {
    const names = outboxNames('leastpriv');
    const role = `${names.table}_role`;
    await createOutboxTable(url, names.table);
    await withSql(url, async (sql) => {
      await sql.query(`create role ${role} with login replication password 'relay-pw'`);
      await sql.query(`grant select on ${names.table} to ${role}`);
      // Only the table's owner may create the publication: done once, outside the relay.
      await sql.query(
        `create publication ${names.publication} for table ${names.table} with (publish = 'insert')`,
      );
    });
    const asRole = new URL(url);
    asRole.username = role;
    asRole.password = 'relay-pw';
    const relay = new RelayProcess(
      relayEnv(names, { DATABASE_URL: asRole.toString(), HEARTBEAT_INTERVAL_MS: '300' }),
    );
    try {
      await relay.waitUntilStreaming();
      await withSql(url, (sql) =>
        insertRows(sql, names.table, [outboxRow('badge', 'b-1', 'BadgeIssued', { level: 1 })]),
      );
      const m = await waitFor(
        async () => {
          const sample = await relay.metrics();
          return (sample.get('outbox_relay_heartbeat_rtt_seconds') ?? 0) > 0 &&
            sample.get(
              `outbox_relay_events_published_total{topic="${names.topicPrefix}.badge"}`,
            ) === 1
            ? sample
            : undefined;
        },
        { timeoutMs: 30_000, description: 'an event published and a heartbeat back' },
      );
      expect(m.get('outbox_relay_replication_lag_bytes')).toBeGreaterThanOrEqual(0);
      expect(relay.logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
      expect(await relay.stop()).toBe(0);
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
      await withSql(url, async (sql) => {
        await sql.query(`drop owned by ${role}`);
        await sql.query(`drop role ${role}`);
      });
    }
  });
});
