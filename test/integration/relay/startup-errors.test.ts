import { createServer, type AddressInfo } from 'node:net';
import { PostgresServer } from '../../harness/postgres';
import {
  createOutboxTable,
  dropOutbox,
  outboxNames,
  relayEnv,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl } from '../../helpers/services';

/** Runs the relay until it exits by itself; returns its exit code and last log line. */
async function runToExit(env: Record<string, string>) {
  const relay = new RelayProcess(env);
  const code = await Promise.race([
    relay.exited,
    new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000)),
  ]);
  const last = [...relay.logs].reverse().find((l) => l.level === 'fatal');
  return { code, fatal: last, stderr: relay.stderr, relay };
}

describe('relay: configuration and preflight errors', () => {
  const url = testDatabaseUrl();

  it('failsOnBadConfiguration with every problem in one message and exit code 2', async () => {
    const { code, stderr } = await runToExit({ KAFKA_BROKERS: 'broker', TOPIC_PARTITIONS: 'many' });
    expect(code).toBe(2);
    expect(stderr).toContain('invalid configuration (3 problems)');
    expect(stderr).toContain('DATABASE_URL is required');
    expect(stderr).toContain('KAFKA_BROKERS "broker" is not host:port');
    expect(stderr).toContain('TOPIC_PARTITIONS must be a whole number');
  });

  it('failsOnBadSecurityAndOperationsOptions with exit code 2, never echoing secrets', async () => {
    const names = outboxNames('badsecurity');
    const bad = await runToExit(
      relayEnv(names, {
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_PASSWORD: 'hunter2',
        KAFKA_TLS_KEY_FILE: '/nonexistent/client.key',
        HEARTBEAT_INTERVAL_MS: '2000',
        HEARTBEAT_TIMEOUT_MS: '1500',
      }),
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=scram-sha-256',
    );
    expect(bad.stderr).toContain('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together');
    expect(bad.stderr).toContain('HEARTBEAT_TIMEOUT_MS must be larger than HEARTBEAT_INTERVAL_MS');
    expect(bad.stderr).not.toContain('hunter2');
    const unreadable = await runToExit(
      relayEnv(names, { KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' }),
    );
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain('KAFKA_TLS_CA_FILE cannot be read: ENOENT');
  });

  it('failsWhenHttpPortIsTaken with exit code 1, naming the port', async () => {
    const names = outboxNames('httpport');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const { code, fatal } = await runToExit(relayEnv(names, { HTTP_PORT: String(port) }));
      expect(code).toBe(1);
      expect(fatal?.code).toBe('HTTP_LISTEN');
      expect(fatal?.msg).toContain(`cannot listen on 127.0.0.1:${port}`);
    } finally {
      server.close();
    }
  });

  it('failsOnUnreachableDatabase after the start-up timeout, without printing the password', async () => {
    const names = outboxNames('unreachable');
    const { code, fatal } = await runToExit(
      relayEnv(names, {
        DATABASE_URL: 'postgres://relay:hunter2@127.0.0.1:9/app',
        STARTUP_TIMEOUT_MS: '500',
      }),
    );
    expect(code).toBe(1);
    expect(fatal?.code).toBe('PG_UNREACHABLE');
    expect(fatal?.msg).toContain('cannot connect to PostgreSQL at 127.0.0.1:9/app');
    expect(JSON.stringify(fatal)).not.toContain('hunter2');
  });

  it('failsOnMissingTable', async () => {
    const names = outboxNames('notable');
    const { code, fatal } = await runToExit(relayEnv(names));
    expect(code).toBe(1);
    expect(fatal?.code).toBe('OUTBOX_TABLE_MISSING');
    expect(fatal?.msg).toContain(`outbox table public.${names.table} does not exist`);
  });

  it('failsOnMissingColumns, naming them', async () => {
    const names = outboxNames('nocols');
    await withSql(url, (sql) =>
      sql.query(`create table ${names.table} (id uuid, aggregatetype text, payload jsonb)`),
    );
    try {
      const { code, fatal } = await runToExit(relayEnv(names));
      expect(code).toBe(1);
      expect(fatal?.code).toBe('OUTBOX_COLUMNS_MISSING');
      expect(fatal?.msg).toContain('lacks column(s) aggregateid, type');
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('failsOnAPublicationWithoutTheTable', async () => {
    const names = outboxNames('wrongpub');
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => sql.query(`create publication ${names.publication}`));
    try {
      const { code, fatal } = await runToExit(relayEnv(names));
      expect(code).toBe(1);
      expect(fatal?.code).toBe('PUBLICATION_INVALID');
      expect(fatal?.msg).toContain('ALTER PUBLICATION');
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('failsOnASlotWithAnotherPlugin', async () => {
    const names = outboxNames('wrongslot');
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) =>
      sql.query(`select pg_create_logical_replication_slot($1, 'test_decoding')`, [names.slot]),
    );
    try {
      const { code, fatal } = await runToExit(relayEnv(names));
      expect(code).toBe(1);
      expect(fatal?.code).toBe('SLOT_INVALID');
      expect(fatal?.msg).toContain('plugin test_decoding');
    } finally {
      await dropOutbox(url, names);
    }
  });

  it('failsOnARoleWithoutReplication', async () => {
    const names = outboxNames('norepl');
    const role = `${names.table}_role`;
    await createOutboxTable(url, names.table);
    await withSql(url, (sql) => sql.query(`create role ${role} login`));
    try {
      const roleUrl = new URL(url);
      roleUrl.username = role;
      const { code, fatal } = await runToExit(
        relayEnv(names, { DATABASE_URL: roleUrl.toString() }),
      );
      expect(code).toBe(1);
      expect(fatal?.code).toBe('PG_PERMISSION');
      expect(fatal?.msg).toContain(`role ${role} may not use replication`);
    } finally {
      await dropOutbox(url, names);
      await withSql(url, (sql) => sql.query(`drop role ${role}`));
    }
  });

  it('failsOnWalLevelReplica', async () => {
    const pg = await PostgresServer.start({ settings: { wal_level: 'replica' } });
    try {
      const names = outboxNames('wallevel');
      await createOutboxTable(pg.url, names.table);
      const { code, fatal } = await runToExit(relayEnv(names, { DATABASE_URL: pg.url }));
      expect(code).toBe(1);
      expect(fatal?.code).toBe('PG_WAL_LEVEL');
      expect(fatal?.msg).toContain("wal_level is 'replica'");
    } finally {
      await pg.destroy();
    }
  });
});
