import { createOutboxTable, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl } from '../../helpers/services';
import { prepareVersions, readBackDeliveries, runWriters } from '../../helpers/writers';

// A relay on the database's host can reach it through the Unix socket, named the way libpq
// users write it: credentials, no host, the socket's directory as `host`.
describe('relay: PostgreSQL over its Unix socket', () => {
  it('streams every event in order with DATABASE_URL naming the socket directory', async () => {
    const url = testDatabaseUrl();
    const { directory, port } = await withSql(url, async (sql) => {
      const { rows } = await sql.query<{ d: string; p: string }>(
        "SELECT current_setting('unix_socket_directories') AS d, current_setting('port') AS p",
      );
      return { directory: rows[0]!.d.split(',')[0]!.trim(), port: rows[0]!.p };
    });
    const socketUrl = `postgres://postgres@/postgres?host=${encodeURIComponent(directory)}&port=${port}`;

    const names = outboxNames('socket');
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => prepareVersions(sql, names.table, 20));
    const relay = new RelayProcess(
      relayEnv(names, { DATABASE_URL: socketUrl, TOPIC_PARTITIONS: '3' }),
    );
    await relay.waitUntilStreaming();
    expect(relay.logs.find((l) => l.msg === 'starting')?.database).toBe(
      `${directory}/.s.PGSQL.${port} (database postgres)`,
    );

    await runWriters({
      databaseUrl: url,
      table: names.table,
      aggregateType: 'order',
      writers: 2,
      transactionsPerWriter: 60,
      aggregates: 20,
      maxRowsPerTransaction: 5,
      pauseMs: 2,
    });
    const report = await readBackDeliveries(url, names.table, `${names.topicPrefix}.order`, 3);
    expect(report.missing).toEqual([]);
    expect(report.outOfOrder).toEqual([]);
    expect(report.misplaced).toEqual([]);

    // A walsender serving a Unix-socket client has no client address.
    const walsenders = await withSql(url, (sql) =>
      sql.query<{ client_addr: string | null }>(
        'SELECT client_addr FROM pg_stat_replication WHERE application_name = $1',
        [`outbox-relay/${names.slot}`],
      ),
    );
    expect(walsenders.rows).toEqual([{ client_addr: null }]);
    expect(await relay.stop()).toBe(0);
  });
});
