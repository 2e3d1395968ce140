/**
 * `npm run demo`: the whole data path on throw-away services. Starts PostgreSQL and Kafka with
 * the test harness, creates the outbox table from schemas/outbox.sql, runs the relay (the built
 * CLI, configured only by environment variables), lets a small "member service" write members
 * and their events in the same transactions, prints every Kafka record as a consumer sees it,
 * and stops everything.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { KafkaServer } from '../harness/kafka';
import { PostgresServer } from '../harness/postgres';
import { kafkaClient } from '../helpers/kafka';
import { startNodeFlags } from '../helpers/relay-process';
import { waitFor } from '../helpers/wait-for';

const ROOT = join(__dirname, '..', '..', '..');
const TOPIC = 'outbox.event.member';
const MEMBERS = ['ada', 'grace', 'linus', 'barbara', 'ken'];

const say = (text: string) => process.stdout.write(`${text}\n`);

async function writeMembers(sql: Client): Promise<number> {
  await sql.query(
    `create table if not exists member (id text primary key, name text not null, tier text not null)`,
  );
  let events = 0;
  const emit = async (memberId: string, type: string, payload: object) => {
    await sql.query(
      `insert into outbox (id, aggregatetype, aggregateid, type, payload) values ($1, 'member', $2, $3, $4)`,
      [randomUUID(), memberId, type, JSON.stringify(payload)],
    );
    events++;
  };
  for (const [i, name] of MEMBERS.entries()) {
    const id = `member-${i + 1}`;
    await sql.query('begin');
    await sql.query(`insert into member values ($1, $2, 'basic')`, [id, name]);
    await emit(id, 'MemberCreated', { id, name, tier: 'basic' });
    await sql.query('commit');
  }
  for (const [i] of MEMBERS.entries()) {
    const id = `member-${i + 1}`;
    await sql.query('begin');
    await sql.query(`update member set tier = 'gold' where id = $1`, [id]);
    await emit(id, 'MemberUpdated', { id, tier: 'gold', version: 2 });
    // Insert-then-delete keeps the outbox empty; the relay reads the insert from the WAL.
    await sql.query(`delete from outbox where aggregateid = $1`, [id]);
    await sql.query('commit');
  }
  return events;
}

async function main(): Promise<void> {
  say('Starting a throw-away PostgreSQL and Kafka ...');
  const [pg, kafka] = await Promise.all([PostgresServer.start(), KafkaServer.start()]);
  let relay: ReturnType<typeof spawn> | undefined;
  let exitCode = 1;
  try {
    say(`  PostgreSQL ${pg.url}\n  Kafka      ${kafka.brokers}`);
    const sql = new Client({ connectionString: pg.url });
    await sql.connect();
    await sql.query(readFileSync(join(ROOT, 'schemas', 'outbox.sql'), 'utf8'));

    say('\nStarting outbox-relay (npm start) ...');
    relay = spawn(process.execPath, [...startNodeFlags(), join(ROOT, 'dist', 'cli.js'), 'start'], {
      env: {
        ...process.env,
        DATABASE_URL: pg.url,
        KAFKA_BROKERS: kafka.brokers,
        TOPIC_PARTITIONS: '3',
        LOG_LEVEL: 'info',
        // Any free port, so the demo never collides with a relay already on 9400.
        HTTP_PORT: '0',
        HTTP_HOST: '127.0.0.1',
        HEARTBEAT_INTERVAL_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let streaming = false;
    let httpPort: number | undefined;
    relay.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter((l) => l !== '')) {
        try {
          const entry = JSON.parse(line) as { level: string; msg: string; port?: number };
          if (entry.msg === 'streaming') streaming = true;
          if (entry.port !== undefined) httpPort = entry.port;
          say(`  [relay] ${entry.level} ${entry.msg}`);
        } catch {
          say(`  [relay] ${line}`);
        }
      }
    });
    await waitFor(() => streaming, {
      timeoutMs: 60_000,
      description: 'the relay to start streaming',
    });

    say(
      '\nThe member service writes 5 members, then upgrades each (business row + outbox row per transaction) ...',
    );
    const expected = await writeMembers(sql);
    await sql.end();

    const admin = kafkaClient([kafka.brokers]).admin();
    await admin.connect();
    await waitFor(async () => (await admin.listTopics()).includes(TOPIC), {
      timeoutMs: 30_000,
      description: `topic ${TOPIC}`,
    });
    await admin.disconnect();

    say(`\nRecords on ${TOPIC}, as a consumer sees them:`);
    const consumer = kafkaClient([kafka.brokers]).consumer({ groupId: `demo-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    let received = 0;
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        received++;
        const headers = Object.entries(message.headers ?? {})
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ');
        say(
          `  p${partition} @${message.offset} key=${message.key?.toString() ?? 'null'} ${headers}\n      ${message.value?.toString() ?? 'null'}`,
        );
        return Promise.resolve();
      },
    });
    await waitFor(() => received >= expected, {
      timeoutMs: 60_000,
      description: `${expected} records`,
    });
    await consumer.disconnect();
    say(
      `\nAll ${expected} events arrived; each member's events share one partition, in commit order.`,
    );
    if (httpPort !== undefined) {
      const status = (await (await fetch(`http://127.0.0.1:${httpPort}/`)).json()) as Record<
        string,
        unknown
      >;
      say(`\nThe relay's status (GET http://127.0.0.1:${httpPort}/, metrics at /metrics):`);
      for (const key of ['role', 'ready', 'confirmedLsn', 'eventsPublished', 'lagBytes'])
        say(`  ${key}: ${JSON.stringify(status[key])}`);
    }
    exitCode = 0;
  } catch (err) {
    say(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (relay !== undefined && relay.exitCode === null) {
      say('\nStopping the relay (SIGTERM) and the services ...');
      const exited = new Promise((resolve) => relay!.once('exit', resolve));
      relay.kill('SIGTERM');
      await exited;
    }
    await Promise.allSettled([pg.destroy(), kafka.destroy()]);
    say('Done.');
    process.exitCode = exitCode;
  }
}

void main();
