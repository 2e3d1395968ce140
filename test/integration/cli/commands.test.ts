import { run } from '../../harness/exec';
import { join } from 'node:path';
import {
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import type { Status } from '../../../src/commands/status';
import type { TailedRecord } from '../../../src/commands/tail';
import { testDatabaseUrl } from '../../helpers/services';

const CLI = join(__dirname, '..', '..', '..', 'dist', 'cli.js');

/** Runs `outbox-relay <args>` to completion with only `env`; bounded. */
function cli(args: string[], env: Record<string, string>, timeoutMs = 60_000) {
  return run(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    timeoutMs,
  });
}

describe('CLI commands against the real services', () => {
  const url = testDatabaseUrl();

  it('init prints idempotent SQL for the configuration without needing a database', async () => {
    const names = outboxNames('initprint');
    const { code, stdout } = await cli(['init'], {
      OUTBOX_TABLE: `events.${names.table}`,
      OUTBOX_COLUMN_AGGREGATE_ID: 'stream_id',
      OUTBOX_COLUMN_TIMESTAMP: 'occurred_at',
      OUTBOX_HEADER_COLUMNS: 'correlation_id:correlationId',
      SLOT_NAME: names.slot,
      PUBLICATION_NAME: names.publication,
    });
    expect(code).toBe(0);
    expect(stdout).toContain(`CREATE TABLE IF NOT EXISTS "events"."${names.table}"`);
    expect(stdout).toContain('"stream_id" text NOT NULL');
    expect(stdout).toContain('"occurred_at" timestamptz NOT NULL DEFAULT now()');
    expect(stdout).toContain('"correlation_id" text');
    expect(stdout).toContain(
      `CREATE PUBLICATION "${names.publication}" FOR TABLE "events"."${names.table}" WITH (publish = 'insert')`,
    );
    expect(stdout).toContain(`pg_create_logical_replication_slot('${names.slot}', 'pgoutput')`);
  });

  it('init --apply prepares the database, status reports it, and tail prints what the relay published', async () => {
    const names = outboxNames('cli');
    const env = relayEnv(names);
    try {
      const applied = await cli(['init', '--apply'], env);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      // Idempotent: a second run changes nothing and succeeds.
      expect((await cli(['init', '--apply'], env)).code).toBe(0);

      const before = await cli(['status', '--json'], env);
      expect(before.code).toBe(0);
      const idle = JSON.parse(before.stdout) as Status;
      expect(idle.slot).toMatchObject({
        name: names.slot,
        exists: true,
        plugin: 'pgoutput',
        active: false,
      });
      expect(idle.publication).toMatchObject({
        exists: true,
        publishesInserts: true,
        tables: [`public.${names.table}`],
      });
      expect(idle.instances).toEqual([]);

      const relay = new RelayProcess(env);
      try {
        await relay.waitUntilStreaming();
        const rows = [
          outboxRow('ticket', 't-1', 'TicketOpened', { title: 'printer on fire' }),
          outboxRow('ticket', 't-2', 'TicketOpened', { title: 'coffee' }),
          outboxRow('ticket', 't-1', 'TicketClosed', {}),
        ];
        await withSql(url, (sql) => insertRows(sql, names.table, rows));
        const tailed = await cli(
          ['tail', `${names.topicPrefix}.ticket`, '--from-beginning', '--max', '3', '--json'],
          env,
        );
        expect(tailed.code).toBe(0);
        const records = tailed.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as TailedRecord);
        expect(records.map((r) => r.headers.id).sort()).toEqual(rows.map((r) => r.id).sort());
        const closed = records.find((r) => r.headers.type === 'TicketClosed')!;
        expect(closed).toMatchObject({
          key: 't-1',
          valueEncoding: 'utf8',
          headers: { aggregateType: 'ticket' },
        });
        expect(JSON.parse(closed.value!)).toEqual({});

        const readable = await cli(
          ['tail', `${names.topicPrefix}.ticket`, '--from-beginning', '--max', '1'],
          env,
        );
        expect(readable.stdout).toMatch(
          /^partition \d+ {2}offset \d+ {2}\S+ {2}key t-[12]\n {2}headers id=[0-9a-f-]{36} {2}type=TicketOpened/,
        );

        const live = await cli(['status'], env);
        expect(live.code).toBe(0);
        expect(live.stdout).toContain(`slot         ${names.slot}: pgoutput on database`);
        expect(live.stdout).toMatch(/instance {5}pid \d+ from .* \(active: holds the slot\)/);
        // Only this slot's relay: other tests' relays stream other slots of the same database.
        expect(live.stdout.match(/^instance /gm)).toHaveLength(1);
        expect(live.stdout).toContain(
          `topic        ${names.topicPrefix}.ticket: 6 partitions, 3 records`,
        );
        expect(live.stdout.trim().endsWith('ok')).toBe(true);
        expect(await relay.stop()).toBe(0);
      } finally {
        await relay.stop();
      }

      const missing = await cli(['status'], { ...env, SLOT_NAME: `${names.slot}_nope` });
      expect(missing.code).toBe(1);
      expect(missing.stdout).toContain(`PROBLEM: slot ${names.slot}_nope does not exist`);
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('fails clearly: tail of a missing topic, status without a database, unknown options', async () => {
    const names = outboxNames('clierr');
    const env = relayEnv(names);
    const tail = await cli(['tail', 'no.such.topic', '--max', '1'], env);
    expect(tail.code).toBe(1);
    expect(tail.stderr).toContain('topic no.such.topic does not exist');
    const status = await cli(['status'], { KAFKA_BROKERS: env.KAFKA_BROKERS! });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('DATABASE_URL is required');
    const unknown = await cli(['status', '--verbose'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option --verbose');
  });
});
