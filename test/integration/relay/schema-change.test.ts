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

describe('relay: outbox schema changes while streaming', () => {
  const url = testDatabaseUrl();

  it('keeps going when an optional column is added and used', async () => {
    const names = outboxNames('addcol');
    await createOutboxTable(url, names.table);
    const relay = new RelayProcess(relayEnv(names, { OUTBOX_HEADER_COLUMNS: 'tenant' }));
    try {
      await relay.waitUntilStreaming();
      await withSql(url, async (sql) => {
        await insertRows(sql, names.table, [outboxRow('doc', 'd-1', 'Drafted', {})]);
        await sql.query(`alter table ${names.table} add column tenant text`);
        await sql.query(
          `insert into ${names.table} (id, aggregatetype, aggregateid, type, payload, tenant) values (gen_random_uuid(), 'doc', 'd-1', 'Published', '{}', 'acme')`,
        );
      });
      const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.doc`, {
        count: 2,
        settleMs: 500,
      });
      expect(records.map((r) => [r.headers.type, r.headers.tenant])).toEqual([
        ['Drafted', undefined],
        ['Published', 'acme'],
      ]);
      expect(await relay.stop()).toBe(0);
    } finally {
      await dropOutbox(url, names);
    }
  });

  it.each([
    [
      'dropped',
      (table: string) => `alter table ${table} drop column aggregateid`,
      `(id, aggregatetype, type, payload)`,
    ],
    [
      'renamed',
      (table: string) => `alter table ${table} rename column type to kind`,
      `(id, aggregatetype, aggregateid, kind, payload)`,
    ],
  ])(
    'stops with OUTBOX_COLUMNS_MISSING when a required column is %s, confirming nothing past it',
    async (what, alter, columns) => {
      const names = outboxNames(`req_${what}`);
      await createOutboxTable(url, names.table);
      const relay = new RelayProcess(relayEnv(names));
      try {
        await relay.waitUntilStreaming();
        const afterChange = await withSql(url, async (sql) => {
          await insertRows(sql, names.table, [outboxRow('doc', 'd-1', 'Drafted', {})]);
          await sql.query(alter(names.table));
          const values = columns.split(',').map((_, i) => (i === 0 ? 'gen_random_uuid()' : `'x'`));
          await sql.query(
            `insert into ${names.table} ${columns} values (${values.join(', ').replace(/'x'\)?$/, "'{}'")})`,
          );
          return walPosition(sql);
        });
        expect(await relay.exited).toBe(1);
        const fatal = relay.logs.find((l) => l.level === 'fatal');
        expect(fatal?.code).toBe('OUTBOX_COLUMNS_MISSING');
        expect(fatal?.msg).toContain(what === 'dropped' ? 'aggregateid' : 'type');
        const confirmed = await slotConfirmedLsn(url, names.slot);
        expect(confirmed < afterChange).toBe(true);
        const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.doc`, {
          count: 1,
          settleMs: 500,
        });
        expect(records.map((r) => r.headers.type)).toEqual(['Drafted']);
      } finally {
        await dropOutbox(url, names);
      }
    },
  );
});
