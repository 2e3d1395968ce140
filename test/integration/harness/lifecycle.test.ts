import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { reapOnExit } from '../../harness/exec';
import { KafkaServer } from '../../harness/kafka';
import { PostgresServer } from '../../harness/postgres';
import { kafkaClient, readTopic } from '../../helpers/kafka';
import { uniqueName } from '../../helpers/names';
import { waitFor } from '../../helpers/wait-for';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function query<T extends object>(url: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

// These tests stop and restart services, so each gets its own instance and never touches the
// shared ones other test files use.
describe('harness lifecycle', () => {
  it('restarts PostgreSQL fast and immediate, keeping committed data and slots', async () => {
    const pg = await PostgresServer.start();
    try {
      await query(pg.url, 'create table t (v int)');
      await query(pg.url, 'insert into t values (1)');
      await query(pg.url, "select pg_create_logical_replication_slot('lifecycle', 'pgoutput')");
      const firstPid = pg.postmasterPid();

      await pg.restart('fast');
      await query(pg.url, 'insert into t values (2)');
      await pg.restart('immediate');

      expect(pg.postmasterPid()).not.toBe(firstPid);
      expect(await query<{ v: number }>(pg.url, 'select v from t order by v')).toEqual([
        { v: 1 },
        { v: 2 },
      ]);
      expect(await query(pg.url, 'select slot_name from pg_replication_slots')).toEqual([
        { slot_name: 'lifecycle' },
      ]);

      await pg.stop('fast');
      await expect(query(pg.url, 'select 1')).rejects.toThrow();
      await pg.start();
      expect(await query(pg.url, 'select count(*)::int as n from t')).toEqual([{ n: 2 }]);
    } finally {
      await pg.destroy();
    }
    expect(existsSync(pg.dir)).toBe(false);
  });

  it('stops and starts Kafka on the same port, keeping topic data', async () => {
    const kafka = await KafkaServer.start();
    try {
      const brokers = [kafka.brokers];
      const topic = uniqueName('lifecycle');
      const producer = kafkaClient(brokers).producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'before outage' }] });
      await producer.disconnect();

      await kafka.stop('SIGKILL');
      expect(kafka.pid).toBeUndefined();
      const admin = kafkaClient(brokers).admin({ retry: { retries: 0 } });
      await expect(admin.connect()).rejects.toThrow();

      await kafka.start();
      const records = await readTopic(brokers, topic, { count: 1, timeoutMs: 30_000 });
      expect(records.map((r) => r.value?.toString())).toEqual(['before outage']);
    } finally {
      await kafka.destroy();
    }
    expect(existsSync(kafka.dir)).toBe(false);
  });

  it('kills a service and removes its files when the process that started it dies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-relay-reaper-test-'));
    writeFileSync(join(dir, 'data'), 'x');
    const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
    const service = spawn('sleep', ['60'], { stdio: 'ignore' });
    const serviceExit = new Promise((resolve) => service.once('exit', resolve));
    try {
      reapOnExit(service.pid!, dir, 'TERM', owner.pid);
      await new Promise((r) => setTimeout(r, 1500));
      expect(alive(service.pid!)).toBe(true);

      owner.kill('SIGKILL');

      await serviceExit;
      await waitFor(() => !existsSync(dir), { timeoutMs: 10_000, description: 'dir removal' });
    } finally {
      owner.kill('SIGKILL');
      service.kill('SIGKILL');
    }
  });

  it('leaves the directory alone when the service itself stops first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-relay-reaper-test-'));
    const service = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      reapOnExit(service.pid!, dir, 'TERM');
      service.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 2500));
      expect(existsSync(dir)).toBe(true);
    } finally {
      service.kill('SIGKILL');
      await import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true }));
    }
  });
});
