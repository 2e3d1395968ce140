import { Client } from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import type { Pgoutput } from 'pg-logical-replication';
import { uniqueName } from '../../helpers/names';
import { dropOutbox } from '../../helpers/outbox';
import { testDatabaseUrl } from '../../helpers/services';
import { waitFor } from '../../helpers/wait-for';

describe('PostgreSQL test service', () => {
  const table = uniqueName('smoke_outbox');
  const publication = uniqueName('smoke_pub');
  const slot = uniqueName('smoke_slot');
  let sql: Client;

  beforeAll(async () => {
    sql = new Client({ connectionString: testDatabaseUrl() });
    await sql.connect();
  });

  afterAll(async () => {
    await sql.end();
    // The walsender may still hold the slot for a moment after the stream stopped.
    await dropOutbox(testDatabaseUrl(), { table, publication, slot, topicPrefix: '' });
  });

  it('runs with wal_level=logical and room for parallel replication', async () => {
    const { rows } = await sql.query<{ name: string; setting: string }>(
      `select name, setting from pg_settings
        where name in ('wal_level', 'max_wal_senders', 'max_replication_slots', 'server_version_num')`,
    );
    const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    expect(settings.wal_level).toBe('logical');
    expect(Number(settings.max_wal_senders)).toBeGreaterThanOrEqual(16);
    expect(Number(settings.max_replication_slots)).toBeGreaterThanOrEqual(16);
    expect(Number(settings.server_version_num)).toBeGreaterThanOrEqual(140000);
  });

  it('streams an inserted row back through a pgoutput slot', async () => {
    await sql.query(
      `create table ${table} (id uuid primary key, aggregateid text not null, payload jsonb)`,
    );
    await sql.query(
      `create publication ${publication} for table ${table} with (publish = 'insert')`,
    );
    await sql.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const id = '5f0c6a52-8d4e-4b8a-9c61-0f3a2f0d9b11';
    await sql.query(`insert into ${table} values ($1, 'order-1', '{"total": 42}')`, [id]);

    const service = new LogicalReplicationService(
      { connectionString: testDatabaseUrl() },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    const inserts: Pgoutput.MessageInsert[] = [];
    service.on('data', (_lsn: string, message: Pgoutput.Message) => {
      if (message.tag === 'insert') inserts.push(message);
    });
    const streaming = service.subscribe(
      new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }),
      slot,
    );
    try {
      await waitFor(() => inserts.length > 0, { timeoutMs: 20_000, description: 'the insert' });
    } finally {
      await service.stop();
      await streaming.catch(() => undefined);
    }

    expect(inserts).toHaveLength(1);
    expect(inserts[0]?.relation.name).toBe(table);
    expect(inserts[0]?.new).toEqual({ id, aggregateid: 'order-1', payload: { total: 42 } });
  });
});
