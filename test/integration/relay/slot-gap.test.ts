import { readTopic } from '../../helpers/kafka';
import { dropOutbox, outboxNames, relayEnv, withSql, type OutboxNames } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

// A slot lost while the relay was stopped (dropped, re-created, a failover to a replica without
// it): the events committed in between never reach Kafka unless the relay notices.
describe('relay: slot gap (a lost slot)', () => {
  const url = testDatabaseUrl();
  const brokers = testKafkaBrokers();

  function envFor(names: OutboxNames, extra: Record<string, string> = {}) {
    return relayEnv(names, {
      OUTBOX_COLUMN_TIMESTAMP: 'occurred_at',
      POSITION_TOPIC: `${names.topicPrefix}.positions`,
      ...extra,
    });
  }

  async function insert(names: OutboxNames, from: number, to: number): Promise<void> {
    await withSql(url, (sql) =>
      sql.query(
        `insert into ${names.table} (id, aggregatetype, aggregateid, type, payload)
           select gen_random_uuid(), 'ledger', 'l-' || (g % 3), 'Booked', jsonb_build_object('n', g)
             from generate_series($1::int, $2::int) g`,
        [from, to],
      ),
    );
  }

  /** Publishes rows 1-5, stops the relay, drops its slot, writes rows 6-`last` (the gap). */
  async function loseTheSlot(names: OutboxNames, last = 10): Promise<void> {
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (id uuid primary key, aggregatetype text not null, aggregateid text not null,
                                      type text not null, payload jsonb, occurred_at timestamptz not null default now())`,
      ),
    );
    const first = new RelayProcess(envFor(names));
    await first.waitUntilStreaming();
    await insert(names, 1, 5);
    await readTopic(brokers, `${names.topicPrefix}.ledger`, { count: 5 });
    expect(await first.stop()).toBe(0); // the final checkpoint is written on the way out
    await withSql(url, (sql) => sql.query('select pg_drop_replication_slot($1)', [names.slot]));
    await insert(names, 6, last);
  }

  const ns = (records: Array<{ value: Buffer | null }>) =>
    [...new Set(records.map((r) => (JSON.parse(r.value!.toString()) as { n: number }).n))].sort(
      (a, b) => a - b,
    );

  it('fails by default naming the gap and leaves no slot; warn streams on and reports it', async () => {
    const names = outboxNames('gap_fail');
    try {
      await loseTheSlot(names);
      const failing = new RelayProcess(envFor(names));
      expect(await failing.exited).toBe(1);
      const fatal = failing.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('SLOT_GAP');
      expect(fatal?.msg).toMatch(
        new RegExp(
          `replication slot ${names.slot} was lost: the last published position is [0-9A-F]+/[0-9A-F]+ \\(commit time \\d{4}-\\d{2}-\\d{2}T[^)]+\\), the new slot starts at [0-9A-F]+/[0-9A-F]+`,
        ),
      );
      expect(fatal?.msg).toContain('ON_SLOT_GAP=fail');
      const { rows } = await withSql(url, (sql) =>
        sql.query('select 1 from pg_replication_slots where slot_name = $1', [names.slot]),
      );
      expect(rows).toHaveLength(0); // so the next start reports the gap again

      const warning = new RelayProcess(envFor(names, { ON_SLOT_GAP: 'warn' }));
      try {
        await warning.waitUntilStreaming();
        expect(warning.logs.find((l) => l.code === 'SLOT_GAP')?.level).toBe('error');
        const status = JSON.parse((await warning.http('/')).body) as {
          slotGap: { lastPublishedLsn: string; newSlotLsn: string; action: string } | null;
        };
        expect(status.slotGap).toMatchObject({ action: 'warn', repaired: false });
        const ready = await warning.http('/readyz');
        expect(ready.status).toBe(200);
        expect(ready.body).toContain('slot gap');
        expect((await warning.http('/metrics')).body).toMatch(/^outbox_relay_slot_gap 1$/m);
        await insert(names, 11, 11);
        const records = await readTopic(brokers, `${names.topicPrefix}.ledger`, {
          count: 6,
          settleMs: 1000,
        });
        // Rows 6-10 were never published: the gap, as reported.
        expect(ns(records)).toEqual([1, 2, 3, 4, 5, 11]);
      } finally {
        expect(await warning.stop()).toBe(0);
      }
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('with ON_SLOT_GAP=replay re-publishes the rows of the gap before streaming, once', async () => {
    const names = outboxNames('gap_replay');
    const env = envFor(names, { ON_SLOT_GAP: 'replay' });
    try {
      await loseTheSlot(names);
      const repairing = new RelayProcess(env);
      await repairing.waitUntilStreaming();
      expect(repairing.logs.some((l) => /slot gap repaired/.test(l.msg))).toBe(true);
      await insert(names, 11, 11);
      const records = await readTopic(brokers, `${names.topicPrefix}.ledger`, {
        count: 11,
        settleMs: 1500,
        distinctIds: 11,
      });
      expect(ns(records)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      // Rows in the safety margin before the last published commit time come again, marked.
      const replayed = records.filter((r) => r.headers['outbox.replay'] !== undefined);
      expect(ns(replayed)).toEqual(expect.arrayContaining([6, 7, 8, 9, 10]));
      // Per aggregate, the stream's row 11 comes after every replayed row of its aggregate.
      const l2 = records.filter((r) => r.key === 'l-2');
      expect(ns([l2[l2.length - 1]!])).toEqual([11]);
      expect(await repairing.stop()).toBe(0);

      // The repair is recorded as done: the next start neither reports nor replays anything.
      const next = new RelayProcess(env);
      await next.waitUntilStreaming();
      expect(next.logs.some((l) => l.code === 'SLOT_GAP' || /slot-gap/.test(l.msg))).toBe(false);
      expect(await next.stop()).toBe(0);
      const after = await readTopic(brokers, `${names.topicPrefix}.ledger`, {
        count: records.length,
        settleMs: 1500,
      });
      expect(after).toHaveLength(records.length);
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('repeats a gap repair that a SIGKILL interrupted: every row of the gap on Kafka, then streaming', async () => {
    const names = outboxNames('gap_kill');
    const env = envFor(names, { ON_SLOT_GAP: 'replay', LOG_LEVEL: 'info' });
    const topic = `${names.topicPrefix}.ledger`;
    try {
      await loseTheSlot(names, 60_005); // 60,000 rows in the gap
      const first = new RelayProcess(env);
      await first.waitForLog(
        (l) => /re-publishing the outbox rows of the gap/.test(l.msg),
        'the repair to start',
      );
      // Killed once part of the repair is on Kafka (5 published before the gap).
      await readTopic(brokers, topic, { count: 1_005, settleMs: 0 });
      first.kill('SIGKILL');
      await first.exited;
      expect(first.logs.some((l) => /slot gap repaired/.test(l.msg))).toBe(false);

      // The slot the first start created is there now: only the marker says the repair is owed.
      const second = new RelayProcess(env);
      try {
        await second.waitUntilStreaming(120_000);
        expect(second.logs.some((l) => /repair did not finish .* repeating it/.test(l.msg))).toBe(
          true,
        );
        expect(second.logs.some((l) => /slot gap repaired/.test(l.msg))).toBe(true);
        await insert(names, 60_006, 60_006);
        const records = await readTopic(brokers, topic, {
          count: 60_006,
          timeoutMs: 90_000,
          settleMs: 1_000,
          distinctIds: 60_006,
        });
        const seen = new Set(ns(records));
        const missing = Array.from({ length: 60_006 }, (_, i) => i + 1).filter((n) => !seen.has(n));
        expect(missing).toEqual([]);
        // The streamed row comes after every replayed row of its aggregate.
        const l0 = records.filter((r) => r.key === 'l-0');
        expect(ns([l0[l0.length - 1]!])).toEqual([60_006]);
        process.stdout.write(
          `[slot-gap] SIGKILL during the repair: 60000 rows in the gap, ${records.length - 60_006} published twice\n`,
        );
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      await dropOutbox(url, names);
    }
  });
});
