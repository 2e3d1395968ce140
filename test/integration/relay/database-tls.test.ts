import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresServer } from '../../harness/postgres';
import { makeCertificates } from '../../helpers/certificates';
import { createOutboxTable, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { prepareVersions, readBackDeliveries, runWriters } from '../../helpers/writers';

// Its own PostgreSQL with TLS on: the replication connection reads its messages behind pg's TLS
// socket, where the relay splits them before pg's parser (src/replication/copy-framer.ts).
describe('relay: PostgreSQL over TLS', () => {
  let pg: PostgresServer;
  let certs: string;
  let ca: string;

  beforeAll(async () => {
    pg = await PostgresServer.start();
    certs = mkdtempSync(join(tmpdir(), 'outbox-relay-pg-tls-'));
    const made = makeCertificates(certs);
    ca = made.ca;
    // The server's certificate and key in its data directory, owned by the cluster's user.
    const { uid, gid } = statSync(pg.dataDir);
    for (const [from, to] of [
      [made.serverCert, 'server.crt'],
      [made.serverKey, 'server.key'],
    ] as const) {
      const path = join(pg.dataDir, to);
      copyFileSync(from, path);
      chownSync(path, uid, gid);
      chmodSync(path, 0o600);
    }
    await withSql(pg.url, async (sql) => {
      await sql.query('ALTER SYSTEM SET ssl = on');
      await sql.query('SELECT pg_reload_conf()');
    });
  });

  afterAll(async () => {
    await pg.destroy();
    rmSync(certs, { recursive: true, force: true });
  });

  it('streams every event in order with the server verified, its walsender on TLS', async () => {
    const names = outboxNames('tls');
    await createOutboxTable(pg.url, names.table);
    await withSql(pg.url, (sql) => prepareVersions(sql, names.table, 30));
    const url = `${pg.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`;
    const relay = new RelayProcess(relayEnv(names, { DATABASE_URL: url, TOPIC_PARTITIONS: '3' }));
    await relay.waitUntilStreaming();

    await runWriters({
      databaseUrl: pg.url,
      table: names.table,
      aggregateType: 'order',
      writers: 2,
      transactionsPerWriter: 80,
      aggregates: 30,
      maxRowsPerTransaction: 10,
      pauseMs: 2,
    });
    const report = await readBackDeliveries(pg.url, names.table, `${names.topicPrefix}.order`, 3);
    expect(report.missing).toEqual([]);
    expect(report.outOfOrder).toEqual([]);
    expect(report.misplaced).toEqual([]);

    const walsenders = await withSql(pg.url, (sql) =>
      sql.query<{ ssl: boolean }>(
        `SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s ON s.pid = r.pid
         WHERE r.application_name = $1`,
        [`outbox-relay/${names.slot}`],
      ),
    );
    expect(walsenders.rows.map((w) => w.ssl)).toEqual([true]);
    expect(await relay.stop()).toBe(0);
  });
});
