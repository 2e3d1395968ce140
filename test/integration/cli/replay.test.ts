import { join } from 'node:path';
import { run } from '../../harness/exec';
import { readTopic, type ConsumedRecord } from '../../helpers/kafka';
import { dropOutbox, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

const CLI = join(__dirname, '..', '..', '..', 'dist', 'cli.js');

function cli(args: string[], env: Record<string, string>, timeoutMs = 60_000) {
  return run(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    timeoutMs,
  });
}

const BASE = Date.parse('2026-11-30T12:00:00Z');
const minute = (i: number) => new Date(BASE + i * 60_000).toISOString();
const ROWS = 30;

describe('outbox-relay replay against the real services', () => {
  const url = testDatabaseUrl();
  const brokers = testKafkaBrokers();
  const names = outboxNames('replay');
  const topic = `${names.topicPrefix}.account`;
  const dlq = `${names.topicPrefix}.dlq`;
  const env = relayEnv(names, {
    OUTBOX_COLUMN_TIMESTAMP: 'occurred_at',
    TOPIC_PARTITIONS: '3',
    DEAD_LETTER_TOPIC: dlq,
  });
  /** What the live relay published, by event id. */
  const originals = new Map<string, ConsumedRecord>();
  const ids: string[] = [];
  let seen = 0;

  const runs = new Set<string>();
  /** The records the last replay added to the topic: those of a replay run not seen before. */
  async function replayed(count: number): Promise<ConsumedRecord[]> {
    const all = await readTopic(brokers, topic, { count: seen + count, settleMs: 1500 });
    const added = all.filter((r) => {
      const run = r.headers['outbox.replay'];
      return run !== undefined && !runs.has(run);
    });
    for (const r of added) runs.add(r.headers['outbox.replay']!);
    expect(all).toHaveLength(seen + count);
    seen = all.length;
    return added;
  }

  beforeAll(async () => {
    // A lax table (nullable aggregate id) so a malformed row can exist.
    await withSql(url, async (sql) => {
      await sql.query(
        `create table ${names.table} (id uuid primary key, aggregatetype text, aggregateid text, type text,
                                      payload jsonb, occurred_at timestamptz not null)`,
      );
      await sql.query(`create sequence ${names.table}_seq`);
    });
    const relay = new RelayProcess(env);
    await relay.waitUntilStreaming();
    await withSql(url, async (sql) => {
      for (let i = 0; i < ROWS; i++) {
        const { rows } = await sql.query<{ id: string }>(
          `insert into ${names.table} values (gen_random_uuid(), 'account', $1, $2, $3, $4) returning id`,
          [`a-${i % 5}`, i % 2 === 0 ? 'Opened' : 'Credited', JSON.stringify({ n: i }), minute(i)],
        );
        ids.push(rows[0]!.id);
      }
      await sql.query(
        `insert into ${names.table} values (gen_random_uuid(), 'account', null, 'Broken', '{}', $1)`,
        [minute(15)],
      );
    });
    const live = await readTopic(brokers, topic, { count: ROWS, settleMs: 1000 });
    for (const record of live) originals.set(record.headers.id!, record);
    seen = live.length;
    await readTopic(brokers, dlq, { count: 1 });
    expect(await relay.stop()).toBe(0);
  });

  afterAll(async () => {
    await withSql(url, (sql) => sql.query(`drop sequence if exists ${names.table}_seq`));
    await dropOutbox(url, names);
  });

  /** Same id, key, partition and value as the live record, plus the replay header. */
  function expectSameAsLive(records: ConsumedRecord[], expectedIds: string[]) {
    expect(records.map((r) => r.headers.id).sort()).toEqual([...expectedIds].sort());
    for (const record of records) {
      const original = originals.get(record.headers.id!)!;
      expect(record.key).toBe(original.key);
      expect(record.partition).toBe(original.partition);
      expect(record.value?.toString()).toBe(original.value?.toString());
      expect(record.timestamp).toBe(original.timestamp);
      expect(record.headers.type).toBe(original.headers.type);
      expect(record.headers['outbox.replay']).toMatch(/^\d{4}-\d{2}-\d{2}T.*\/[0-9a-f]{8}$/);
    }
  }

  it('replays a time range exactly as the relay published it, in order per aggregate', async () => {
    const { code, stdout } = await cli(['replay', '--from', minute(10), '--to', minute(20)], env);
    expect(code).toBe(0);
    // Rows 10..19 and the malformed row (minute 15), which is dead-lettered again.
    expect(stdout).toContain('10 published, 1 dead-lettered');
    expect(stdout).toContain('of 11 selected');
    const records = await replayed(10);
    expectSameAsLive(records, ids.slice(10, 20));
    for (const key of new Set(records.map((r) => r.key))) {
      const ns = records
        .filter((r) => r.key === key)
        .map((r) => (JSON.parse(r.value!.toString()) as { n: number }).n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
    }
    const letters = await readTopic(brokers, dlq, { count: 2 });
    expect(letters[1]!.headers['dlq.reason']).toBe('MISSING_AGGREGATE_ID');
    expect(letters[1]!.headers['outbox.replay']).toBeDefined();
  });

  it('replays by aggregate id, by event type with a limit, and by a --where predicate', async () => {
    const byAggregate = await cli(['replay', '--aggregate-id', 'a-3'], env);
    expect(byAggregate.code).toBe(0);
    expectSameAsLive(
      await replayed(6),
      ids.filter((_, i) => i % 5 === 3),
    );

    const limited = await cli(['replay', '--event-type=Credited', '--limit', '4'], env);
    expect(limited.stdout).toContain('4 published, 0 dead-lettered');
    // Ordered by the timestamp column: the first four Credited rows.
    expectSameAsLive(await replayed(4), [ids[1]!, ids[3]!, ids[5]!, ids[7]!]);

    const where = await cli(['replay', '--where', "(payload->>'n')::int in (2, 27)"], env);
    expect(where.code).toBe(0);
    expectSameAsLive(await replayed(2), [ids[2]!, ids[27]!]);
  });

  it('paces a replay to --max-rate', async () => {
    const started = Date.now();
    const paced = await cli(['replay', '--aggregate-type', 'account', '--max-rate', '10'], env);
    const seconds = (Date.now() - started) / 1000;
    expect(paced.stdout).toContain('30 published, 1 dead-lettered');
    // 31 rows at 10 per second: the last one goes out 3 s after the first.
    expect(seconds).toBeGreaterThanOrEqual(3);
    expectSameAsLive(await replayed(30), ids);
  });

  it('publishes nothing for a dry run, an empty selection, a bad or writing --where, or bad input', async () => {
    const dry = await cli(['replay', '--dry-run', '--aggregate-id', 'a-2'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      '6 rows selected (ordered by column occurred_at); nothing published',
    );
    expect(dry.stdout).toContain(ids[2]!);

    const empty = await cli(['replay', '--aggregate-id', 'nobody'], env);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('0 published, 0 dead-lettered to');

    const syntax = await cli(['replay', '--where', 'nosuchcolumn = 1'], env);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toContain('outbox-relay replay: ');
    expect(syntax.stderr).toContain('nosuchcolumn');

    const writing = await cli(['replay', '--where', `nextval('${names.table}_seq') > 0`], env);
    expect(writing.code).toBe(1);
    expect(writing.stderr).toContain('read-only transaction');

    const unknown = await cli(['replay', '--since', 'yesterday'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unexpected argument --since');

    const badTime = await cli(['replay', '--from', 'last tuesday'], env);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('--from needs an ISO 8601 time');

    const unreachable = await cli(['replay'], {
      ...env,
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);

    // None of these added a record.
    const all = await readTopic(brokers, topic, { count: seen, settleMs: 1500 });
    expect(all).toHaveLength(seen);
  });
});
