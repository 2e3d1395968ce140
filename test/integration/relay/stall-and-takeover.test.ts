import { readTopic } from '../../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';
import { waitFor } from '../../helpers/wait-for';
import {
  readBackDeliveries,
  prepareVersions,
  runWriters,
  versionTable,
} from '../../helpers/writers';

/** The walsender serving a slot, as the server reports it. */
async function walsenderPid(url: string, slot: string): Promise<number> {
  return waitFor(
    () =>
      withSql(url, async (sql) => {
        const { rows } = await sql.query<{ pid: number | null }>(
          'select active_pid as pid from pg_replication_slots where slot_name = $1',
          [slot],
        );
        return rows[0]?.pid ?? undefined;
      }),
    { timeoutMs: 10_000, description: `an active walsender for ${slot}` },
  );
}

describe('relay: stalls and takeover', () => {
  const url = testDatabaseUrl();
  const brokers = testKafkaBrokers();

  it('reconnects when its walsender is terminated, and detects and recovers from a hung one', async () => {
    const names = outboxNames('stall');
    await createOutboxTable(url, names.table);
    const relay = new RelayProcess(
      relayEnv(names, {
        HEARTBEAT_INTERVAL_MS: '300',
        HEARTBEAT_TIMEOUT_MS: '3000',
        SLOT_RETRY_INTERVAL_MS: '300',
      }),
    );
    const topic = `${names.topicPrefix}.invoice`;
    const rows = Array.from({ length: 30 }, (_, i) =>
      outboxRow('invoice', `i-${i % 4}`, 'InvoiceIssued', { i }),
    );
    try {
      await relay.waitUntilStreaming();
      await withSql(url, (sql) => insertRows(sql, names.table, rows.slice(0, 10)));
      await readTopic(brokers, topic, { count: 10 });

      // 1. The walsender is terminated: the stream ends, the relay reconnects from the slot.
      const first = await walsenderPid(url, names.slot);
      await withSql(url, (sql) => sql.query('select pg_terminate_backend($1)', [first]));
      await relay.waitForLog((l) => l.level === 'warn' && /reconnecting/.test(l.msg), 'reconnect');
      await withSql(url, (sql) => insertRows(sql, names.table, rows.slice(10, 20)));
      await readTopic(brokers, topic, { count: 20 });

      // 2. The walsender hangs (SIGSTOP): no error on the socket, just silence. The heartbeat
      // finds it, readiness fails, and the relay reconnects once the server lets go of the slot.
      const hung = await walsenderPid(url, names.slot);
      expect(hung).not.toBe(first);
      await waitFor(async () => (await relay.http('/readyz')).status === 200, {
        timeoutMs: 10_000,
        description: 'ready before the stall',
      });
      process.kill(hung, 'SIGSTOP');
      try {
        await withSql(url, (sql) => insertRows(sql, names.table, rows.slice(20)));
        const stalled = await relay.waitForLog(
          (l) => l.code === 'REPLICATION_STALLED',
          'the stall to be reported',
          20_000,
        );
        expect(stalled.level).toBe('error');
        const ready = await relay.http('/readyz');
        expect(ready.status).toBe(503);
        expect((await relay.metrics()).get('outbox_relay_stalls_total')).toBe(1);
      } finally {
        process.kill(hung, 'SIGCONT');
      }
      const records = await readTopic(brokers, topic, {
        count: 30,
        timeoutMs: 30_000,
        until: (read) => new Set(read.map((r) => r.headers.id)).size >= 30,
      });
      const ids = new Set(records.map((r) => r.headers.id));
      expect(rows.filter((r) => !ids.has(r.id))).toEqual([]);
      await waitFor(async () => (await relay.http('/readyz')).status === 200, {
        timeoutMs: 20_000,
        description: 'ready again after the stall',
      });
      const after = await relay.metrics();
      // One reconnect for the terminated walsender, at least one for the stall.
      expect(after.get('outbox_relay_reconnects_total')).toBeGreaterThanOrEqual(2);
      expect(after.get('outbox_relay_errors_total{code="REPLICATION_STALLED"}')).toBe(1);
      expect(
        after.get('outbox_relay_retries_total{kind="replication_reconnect"}'),
      ).toBeGreaterThanOrEqual(2);
      expect(await relay.stop()).toBe(0);
    } finally {
      await relay.stop();
      await dropOutbox(url, names);
    }
  });

  it('a standby takes over within SLOT_RETRY_INTERVAL_MS plus a second after the active instance is SIGKILLed under load, losing nothing', async () => {
    const names = outboxNames('takeover');
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => prepareVersions(sql, names.table, 100));
    // The defaults: what the README's takeover figure is about.
    const env = relayEnv(names, { TOPIC_PARTITIONS: '6', LOG_LEVEL: 'info' });
    const active = new RelayProcess(env);
    await active.waitUntilStreaming();
    const standby = new RelayProcess(env);
    try {
      await standby.waitForLog((l) => /waiting as a standby/.test(l.msg), 'standby notice');
      const standbyStatus = await standby.http('/readyz');
      expect(standbyStatus.status).toBe(503);
      expect(standbyStatus.body).toMatch(/^standby/);
      expect((await standby.metrics()).get('outbox_relay_role{role="standby"}')).toBe(1);

      const writers = runWriters({
        databaseUrl: url,
        table: names.table,
        aggregateType: 'cart',
        writers: 2,
        transactionsPerWriter: 100_000,
        durationMs: 8_000,
        aggregates: 100,
        maxRowsPerTransaction: 20,
        pauseMs: 30,
      });
      await new Promise((r) => setTimeout(r, 3_000));
      const killedAt = Date.now();
      active.kill('SIGKILL');
      await active.exited;
      const tookOver = await standby.waitForLog(
        (l) => /now active and streaming/.test(l.msg),
        'the standby to take over',
        30_000,
      );
      const takeoverMs = Date.parse(String(tookOver.time)) - killedAt;
      await writers;
      const report = await readBackDeliveries(url, names.table, `${names.topicPrefix}.cart`, 6, {
        settleMs: 2_000,
      });
      expect(report.events).toBeGreaterThan(500);
      expect(report.missing).toEqual([]);
      expect(report.outOfOrder).toEqual([]);
      expect(report.misplaced).toEqual([]);
      // SLOT_RETRY_INTERVAL_MS is 5 s by default; the slot is free as soon as PostgreSQL sees the
      // connection close, so the standby's next attempt (at most one interval later) wins.
      expect(takeoverMs).toBeLessThan(5_000 + 1_500);
      process.stdout.write(
        `[takeover] standby streaming ${takeoverMs} ms after SIGKILL of the active instance; ${report.events} events, ${report.duplicates} duplicates\n`,
      );
      expect((await standby.metrics()).get('outbox_relay_role{role="active"}')).toBe(1);
      expect(await standby.stop()).toBe(0);
    } finally {
      await standby.stop();
      await withSql(url, (sql) => sql.query(`drop table if exists ${versionTable(names.table)}`));
      await dropOutbox(url, names);
    }
  });
});
