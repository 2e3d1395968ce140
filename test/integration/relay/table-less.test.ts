import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTopic } from '../../helpers/kafka';
import { dropOutbox, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

describe('relay: table-less outbox (logical decoding messages)', () => {
  const url = testDatabaseUrl();

  beforeAll(async () => {
    // The schema file is idempotent; it also defines outbox_emit().
    await withSql(url, (sql) =>
      sql.query(readFileSync(join(__dirname, '..', '..', '..', 'schemas', 'outbox.sql'), 'utf8')),
    );
  });

  it('publishes outbox_emit() messages like rows, with stable derived ids across slots and redelivery', async () => {
    const names = outboxNames('tableless');
    const prefix = names.topicPrefix; // messages are not filtered by publication: a prefix per test
    const env = relayEnv(names, {
      OUTBOX_TABLE: `${names.table}_absent`,
      OUTBOX_MESSAGE_PREFIX: prefix,
    });
    const relay = new RelayProcess(env);
    const copy = { ...names, slot: `${names.slot}_copy` };
    try {
      await relay.waitUntilStreaming();
      // A copy of the slot decodes the same messages again: a redelivery, deterministically.
      await withSql(url, (sql) =>
        sql.query(`select pg_copy_logical_replication_slot($1, $2)`, [names.slot, copy.slot]),
      );
      await withSql(url, async (sql) => {
        await sql.query('begin');
        await sql.query(
          `select outbox_emit('cart', 'cart-1', 'ItemAdded', '{"sku": "A"}', '{"correlationId": "c-9"}', null, $1)`,
          [prefix],
        );
        await sql.query(
          `select outbox_emit('cart', 'cart-1', 'ItemAdded', '{"sku": "B"}', null, 'a0000000-0000-4000-8000-000000000001', $1)`,
          [prefix],
        );
        await sql.query('commit');
        // Rolled back: never published. Non-transactional: ignored with a warning.
        await sql.query('begin');
        await sql.query(
          `select outbox_emit('cart', 'cart-1', 'ItemAdded', '{"sku": "X"}', null, null, $1)`,
          [prefix],
        );
        await sql.query('rollback');
        await sql.query(`select pg_logical_emit_message(false, $1, '{"aggregateType": "cart"}')`, [
          prefix,
        ]);
        await sql.query(
          `select outbox_emit('cart', 'cart-1', 'CartCheckedOut', null, null, null, $1)`,
          [prefix],
        );
      });
      const records = await readTopic(testKafkaBrokers(), `${prefix}.cart`, {
        count: 3,
        settleMs: 1000,
      });
      expect(records.map((r) => [r.key, r.headers.type, r.value?.toString() ?? null])).toEqual([
        // jsonb's text spelling, as a jsonb payload column gives it in the table path
        ['cart-1', 'ItemAdded', '{"sku": "A"}'],
        ['cart-1', 'ItemAdded', '{"sku": "B"}'],
        ['cart-1', 'CartCheckedOut', null],
      ]);
      expect(records[0]!.headers.correlationId).toBe('c-9');
      expect(records[0]!.headers.id).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(records[1]!.headers.id).toBe('a0000000-0000-4000-8000-000000000001');
      await relay.waitForLog(
        (l) => /non-transactional/.test(l.msg),
        'the non-transactional warning',
      );
      expect(await relay.stop()).toBe(0);

      // Redelivery from the copied slot: same events, same ids.
      const again = new RelayProcess({ ...env, SLOT_NAME: copy.slot });
      await again.waitUntilStreaming();
      const all = await readTopic(testKafkaBrokers(), `${prefix}.cart`, {
        count: 6,
        settleMs: 1000,
      });
      expect(all.slice(3).map((r) => r.headers.id)).toEqual(records.map((r) => r.headers.id));
      expect(await again.stop()).toBe(0);
    } finally {
      await dropOutbox(url, copy);
      await dropOutbox(url, names);
    }
  });

  it('forwards the payload bytes as written: a message and a json-column row with the same payload give the same value', async () => {
    const names = outboxNames('tableless_bytes');
    const prefix = names.topicPrefix;
    // Precision and spelling that a JSON round trip would lose: integers above 2^53, 1.0, a
    // repeated key, spacing.
    const payload =
      '{"amount": 12345678901234567890, "rate": 1.0, "k": 1, "k": 2,  "note": "\\u00e9"}';
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (id uuid primary key, aggregatetype text not null, aggregateid text not null,
                                      type text not null, payload json)`,
      ),
    );
    const relay = new RelayProcess(relayEnv(names, { OUTBOX_MESSAGE_PREFIX: prefix }));
    try {
      await relay.waitUntilStreaming();
      await withSql(url, async (sql) => {
        await sql.query(
          `insert into ${names.table} values ('b0000000-0000-4000-8000-000000000001', 'ledger', 'l-1', 'Booked', $1)`,
          [payload],
        );
        await sql.query(
          `select pg_logical_emit_message(true, $1, '{"aggregateType": "ledger", "aggregateId": "l-1", "type": "Booked", "payload": ' || $2 || '}')`,
          [prefix, payload],
        );
      });
      const records = await readTopic(testKafkaBrokers(), `${prefix}.ledger`, {
        count: 2,
        settleMs: 1000,
      });
      expect(records.map((r) => r.value?.toString('utf8'))).toEqual([payload, payload]);
      expect(await relay.stop()).toBe(0);
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('keeps derived ids stable when SIGKILLed and restarted while messages flow', async () => {
    const names = outboxNames('tableless_kill');
    const prefix = names.topicPrefix;
    const env = relayEnv(names, {
      OUTBOX_TABLE: `${names.table}_absent`,
      OUTBOX_MESSAGE_PREFIX: prefix,
      MAX_IN_FLIGHT_EVENTS: '200',
      LOG_LEVEL: 'info',
    });
    let relay = new RelayProcess(env);
    try {
      await relay.waitUntilStreaming();
      const transactions = 150;
      const perTransaction = 10;
      const writing = withSql(url, async (sql) => {
        for (let t = 0; t < transactions; t++) {
          await sql.query(
            `select outbox_emit('stream', 's-' || (g % 13), 'Ticked', jsonb_build_object('t', $1::int, 'g', g), null, null, $2)
               from generate_series(1, $3) g`,
            [t, prefix, perTransaction],
          );
          await new Promise((r) => setTimeout(r, 10));
        }
      });
      for (let kill = 0; kill < 2; kill++) {
        await new Promise((r) => setTimeout(r, 700));
        relay.kill('SIGKILL');
        await relay.exited;
        relay = new RelayProcess(env);
        await relay.waitUntilStreaming();
      }
      await writing;
      const expected = transactions * perTransaction;
      const records = await readTopic(testKafkaBrokers(), `${prefix}.stream`, {
        count: expected,
        timeoutMs: 60_000,
        settleMs: 1500,
        distinctIds: expected,
      });
      // Every message exactly once by id: a redelivered message kept its derived id.
      const byContent = new Map<string, Set<string>>();
      for (const r of records) {
        const content = r.value!.toString();
        if (!byContent.has(content)) byContent.set(content, new Set());
        byContent.get(content)!.add(r.headers.id ?? '');
      }
      expect(byContent.size).toBe(expected);
      expect([...byContent.values()].filter((set) => set.size !== 1)).toEqual([]);
      expect(new Set(records.map((r) => r.headers.id)).size).toBe(expected);
      // Per aggregate, first deliveries come in commit order (transaction number never goes back).
      const lastSeen = new Map<string, number>();
      const seen = new Set<string>();
      for (const r of records) {
        if (seen.has(r.headers.id!)) continue;
        seen.add(r.headers.id!);
        const { t } = JSON.parse(r.value!.toString()) as { t: number };
        expect(t).toBeGreaterThanOrEqual(lastSeen.get(r.key!) ?? 0);
        lastSeen.set(r.key!, t);
      }
      process.stdout.write(
        `[table-less] ${expected} messages, ${records.length - expected} redelivered with the same id\n`,
      );
      expect(await relay.stop()).toBe(0);
    } finally {
      await dropOutbox(url, names);
    }
  });
});
