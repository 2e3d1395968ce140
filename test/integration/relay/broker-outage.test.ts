import { KafkaServer } from '../../harness/kafka';
import { kafkaClient, readTopic } from '../../helpers/kafka';
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

// Stops its own broker, so it never disturbs tests using the shared one.
describe('relay: Kafka outage', () => {
  const names = outboxNames('outage');
  const url = testDatabaseUrl();
  let kafka: KafkaServer;

  beforeAll(async () => {
    kafka = await KafkaServer.start();
    await createOutboxTable(url, names.table);
  });

  afterAll(async () => {
    await dropOutbox(url, names);
    await kafka.destroy();
  });

  it('retries while the broker is down, confirms nothing unacknowledged, and delivers everything after', async () => {
    const relay = new RelayProcess(
      relayEnv(names, {
        KAFKA_BROKERS: kafka.brokers,
        TOPIC_PARTITIONS: '3',
        RETRY_MAX_MS: '1000',
        HEARTBEAT_INTERVAL_MS: '500',
      }),
    );
    await relay.waitUntilStreaming();
    await waitFor(async () => (await relay.http('/readyz')).status === 200, {
      timeoutMs: 10_000,
      description: '/readyz 200 while streaming',
    });
    const rows = Array.from({ length: 60 }, (_, i) =>
      outboxRow('payment', `p-${i % 7}`, 'PaymentCaptured', { i }),
    );
    await withSql(url, (sql) => insertRows(sql, names.table, rows.slice(0, 20)));
    expect(
      await readTopic([kafka.brokers], `${names.topicPrefix}.payment`, { count: 20 }),
    ).toHaveLength(20);

    await kafka.stop('SIGKILL');
    // The first event written during the outage cannot be acknowledged until Kafka returns, so the
    // slot must stay before its commit record's end, which is at most the WAL position read right
    // after that commit. (Other tests write to the same database, so the slot may legitimately move
    // through their WAL before this event arrives: only positions from here on are checked.)
    const afterFirstOutageCommit = await withSql(url, async (sql) => {
      await insertRows(sql, names.table, [rows[20]!]);
      return walPosition(sql);
    });
    const observed: bigint[] = [];
    const outageStarted = Date.now();
    // 40 events during an outage of at least 11 s, reading the slot's position after each step.
    let written = 1;
    while (Date.now() - outageStarted < 11_000 || written < 40) {
      if (written < 40) {
        const row = rows[20 + written]!;
        await withSql(url, (sql) => insertRows(sql, names.table, [row]));
        written++;
      }
      observed.push(await slotConfirmedLsn(url, names.slot));
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(observed.filter((lsn) => lsn >= afterFirstOutageCommit)).toEqual([]);
    // Readiness reports the outage (the process itself stays healthy).
    const notReady = await relay.http('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatch(/Kafka/);
    expect((await relay.http('/healthz')).status).toBe(200);
    expect(
      relay.logs.some((l) => l.level === 'warn' && /Kafka send failed; retrying/.test(l.msg)),
    ).toBe(true);
    expect(relay.running).toBe(true);

    await kafka.start();
    const records = await readTopic([kafka.brokers], `${names.topicPrefix}.payment`, {
      count: 60,
      timeoutMs: 60_000,
      until: (read) => new Set(read.map((r) => r.headers.id)).size >= 60,
      settleMs: 1000,
    });
    const ids = new Set(records.map((r) => r.headers.id));
    expect(rows.filter((r) => !ids.has(r.id))).toEqual([]);
    expect(relay.logs.some((l) => /Kafka send succeeded again/.test(l.msg))).toBe(true);
    await waitFor(async () => (await relay.http('/readyz')).status === 200, {
      timeoutMs: 20_000,
      description: '/readyz 200 again after Kafka returned',
    });
    const metrics = await relay.metrics();
    expect(metrics.get('outbox_relay_retries_total{kind="kafka_send"}')).toBeGreaterThan(0);
    expect(metrics.get('outbox_relay_errors_total{code="KAFKA_SEND"}')).toBeGreaterThan(0);
    // Confirmation moves on once Kafka acknowledged the backlog.
    await waitFor(async () => (await slotConfirmedLsn(url, names.slot)) > afterFirstOutageCommit, {
      timeoutMs: 20_000,
      description: 'the slot to confirm past the outage writes',
    });
    expect(await relay.stop()).toBe(0);
  });

  it('exits 1 with SHUTDOWN_TIMEOUT when Kafka cannot take the in-flight events before the deadline', async () => {
    const timeoutNames = outboxNames('shutdown_timeout');
    await createOutboxTable(url, timeoutNames.table);
    const relay = new RelayProcess(
      relayEnv(timeoutNames, {
        KAFKA_BROKERS: kafka.brokers,
        SHUTDOWN_TIMEOUT_MS: '1500',
        RETRY_MAX_MS: '500',
      }),
    );
    try {
      await relay.waitUntilStreaming();
      await kafka.stop('SIGKILL');
      await withSql(url, (sql) =>
        insertRows(sql, timeoutNames.table, [outboxRow('payment', 'p-1', 'Refunded', {})]),
      );
      await relay.waitForLog((l) => /Kafka send failed; retrying/.test(l.msg), 'a send retry');
      relay.kill('SIGTERM');
      expect(await relay.exited).toBe(1);
      const fatal = relay.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('SHUTDOWN_TIMEOUT');
      expect(fatal?.msg).toContain('will be published again on the next start');
    } finally {
      await kafka.start();
      await dropOutbox(url, timeoutNames);
    }
  });

  it('exits 1 with SHUTDOWN_INCOMPLETE when Kafka refuses the in-flight events for good while stopping', async () => {
    const refusedNames = outboxNames('shutdown_refused');
    await createOutboxTable(url, refusedNames.table);
    // A topic that refuses records over 1 KiB: a non-retriable MESSAGE_TOO_LARGE, once the broker is back.
    const admin = kafkaClient([kafka.brokers]).admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: `${refusedNames.topicPrefix}.payment`,
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: '1024' }],
        },
      ],
    });
    await admin.disconnect();
    const relay = new RelayProcess(
      relayEnv(refusedNames, {
        KAFKA_BROKERS: kafka.brokers,
        SHUTDOWN_TIMEOUT_MS: '60000',
        RETRY_MAX_MS: '500',
      }),
    );
    try {
      await relay.waitUntilStreaming();
      await kafka.stop('SIGKILL');
      // Other tests write to the same database: the slot may move through their WAL, but never
      // past this row's commit (at most the WAL position read right after it).
      const afterRowCommit = await withSql(url, async (sql) => {
        await insertRows(sql, refusedNames.table, [
          outboxRow('payment', 'p-1', 'Refunded', { note: 'x'.repeat(4000) }),
        ]);
        return walPosition(sql);
      });
      await relay.waitForLog((l) => /Kafka send failed; retrying/.test(l.msg), 'a send retry');
      relay.kill('SIGTERM');
      await relay.waitForLog((l) => /waiting for in-flight events/.test(l.msg), 'the drain');
      await kafka.start();
      // Before the fix the refused batch read as drained: "stopped", exit 0, nothing alerted.
      expect(await relay.exited).toBe(1);
      const fatal = relay.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('SHUTDOWN_INCOMPLETE');
      expect(fatal?.msg).toContain('(KAFKA_SEND)');
      // The reason is logged as an error of its own, with the broker's word for it.
      const reason = relay.logs.find((l) => l.level === 'error' && l.code === 'KAFKA_SEND');
      expect(reason?.msg).toContain('MESSAGE_TOO_LARGE');
      expect(relay.logs.some((l) => l.msg === 'stopped')).toBe(false);
      // Nothing unacknowledged was confirmed: the row is read again on the next start.
      expect((await slotConfirmedLsn(url, refusedNames.slot)) < afterRowCommit).toBe(true);
    } finally {
      await kafka.start().catch(() => undefined);
      await dropOutbox(url, refusedNames);
    }
  });
});
