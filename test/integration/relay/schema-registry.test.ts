import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryServer } from '../../harness/registry';
import { makeCertificates } from '../../helpers/certificates';
import { readTopic, type ConsumedRecord } from '../../helpers/kafka';
import {
  createOutboxTable,
  dropOutbox,
  insertRows,
  outboxNames,
  outboxRow,
  relayEnv,
  withSql,
  type OutboxNames,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'avro-orders');
const PLACED = 'shop.order.OrderPlaced';
const SHIPPED = 'shop.order.OrderShipped';

const placed = (orderId: string, extra: Record<string, unknown> = {}) => ({
  orderId,
  customer: { id: 'c-1', address: { city: 'Lyon', zip: null } },
  lines: [
    { sku: 'book', quantity: 2, price: 12.5 },
    { sku: 'pen', quantity: 1, price: 1.25 },
  ],
  currency: 'EUR',
  coupon: null,
  ...extra,
});
const shipped = (orderId: string) => ({ orderId, carrier: 'DHL', tracking: 'T-1' });

/** The schema id in a Confluent wire-format value (magic byte 0, then the id). */
const schemaId = (record: ConsumedRecord) => {
  expect(record.value![0]).toBe(0);
  return record.value!.readUInt32BE(1);
};

describe('relay: VALUE_FORMAT=avro with a schema registry (Apicurio, Confluent API)', () => {
  const url = testDatabaseUrl();
  const brokers = testKafkaBrokers();
  let registry: RegistryServer;
  /** An independent reader: knows nothing but the registry URL. */
  let decoder: SchemaRegistry;
  const tables: OutboxNames[] = [];

  beforeAll(async () => {
    registry = await RegistryServer.start();
    decoder = new SchemaRegistry({ host: registry.url });
  }, 300_000);

  afterAll(async () => {
    for (const names of tables) await dropOutbox(url, names);
    await registry?.destroy();
  });

  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${registry.url}/${path}`, {
      method,
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.ok).toBe(true);
    return (await response.json()) as T;
  }

  async function table(prefix: string): Promise<OutboxNames> {
    const names = outboxNames(prefix);
    tables.push(names);
    await createOutboxTable(url, names.table);
    return names;
  }

  function env(names: OutboxNames, schemas: string, extra: Record<string, string> = {}) {
    return relayEnv(names, {
      VALUE_FORMAT: 'avro',
      AVRO_SCHEMA_DIR: join(FIXTURES, schemas),
      SCHEMA_REGISTRY_URL: registry.url,
      DEAD_LETTER_TOPIC: `${names.topicPrefix}.dlq`,
      ...extra,
    });
  }

  it('publishes two event types on one topic that a registry-only decoder reads; new versions get new ids; an incompatible one stops the start', async () => {
    const names = await table('registry');
    const topic = `${names.topicPrefix}.order`;
    const first = new RelayProcess(env(names, 'v1'));
    await first.waitUntilStreaming();
    const rows = [
      outboxRow('order', 'o-1', 'OrderPlaced', placed('o-1')),
      outboxRow('order', 'o-1', 'OrderShipped', shipped('o-1')),
      outboxRow(
        'order',
        'o-2',
        'OrderPlaced',
        placed('o-2', { coupon: 'WINTER', customer: { id: 'c-2', address: null } }),
      ),
      outboxRow('order', 'o-3', 'OrderPlaced', { orderId: 'o-3', currency: 'GBP' }), // not its schema
    ];
    await withSql(url, (sql) => insertRows(sql, names.table, rows));
    const consumed = await readTopic(brokers, topic, { count: 3, settleMs: 1000 });
    // Partitions differ by key: take the records by event id.
    const records = rows.slice(0, 3).map((row) => consumed.find((r) => r.headers.id === row.id)!);
    expect(records.every((r) => r !== undefined)).toBe(true);
    for (const [i, record] of records.entries())
      expect(await decoder.decode(record.value!)).toEqual(rows[i]!.payload);
    const [placedId, shippedId] = [schemaId(records[0]!), schemaId(records[1]!)];
    expect(placedId).not.toBe(shippedId);
    expect(schemaId(records[2]!)).toBe(placedId);
    expect(records[0]!.key).toBe('o-1'); // keys stay plain strings
    expect(records[0]!.headers['avro.schema']).toBe(PLACED);
    const letters = await readTopic(brokers, `${names.topicPrefix}.dlq`, { count: 1 });
    expect(letters[0]!.headers['dlq.reason']).toBe('PAYLOAD_INVALID');
    // TopicRecordNameStrategy: one subject per topic and record.
    const subjects = await api<string[]>('GET', 'subjects');
    expect(subjects).toEqual(expect.arrayContaining([`${topic}-${PLACED}`, `${topic}-${SHIPPED}`]));
    expect(await first.stop()).toBe(0);

    // A compatible second version (an optional field): a new version, a new id for new records.
    const second = new RelayProcess(env(names, 'v2'));
    await second.waitUntilStreaming();
    const v2 = outboxRow('order', 'o-4', 'OrderPlaced', placed('o-4', { giftNote: 'for you' }));
    await withSql(url, (sql) => insertRows(sql, names.table, [v2]));
    const after = await readTopic(brokers, topic, { count: 4, settleMs: 500 });
    const newer = after.find((r) => r.headers.id === v2.id)!;
    expect(schemaId(newer)).not.toBe(placedId);
    expect(await decoder.decode(newer.value!)).toEqual(v2.payload);
    expect(await api<number[]>('GET', `subjects/${topic}-${PLACED}/versions`)).toEqual([1, 2]);
    expect(await second.stop()).toBe(0);

    // An incompatible change under BACKWARD compatibility: refused at start-up, saying why.
    await api('PUT', `config/${encodeURIComponent(`${topic}-${PLACED}`)}`, {
      compatibility: 'BACKWARD',
    });
    const refused = new RelayProcess(env(names, 'incompatible'));
    expect(await refused.exited).toBe(1);
    const fatal = refused.logs.find((l) => l.level === 'fatal');
    expect(fatal?.code).toBe('SCHEMA_REGISTRY');
    expect(fatal?.msg).toContain(`subject ${topic}-${PLACED}`);
    expect(fatal?.msg).toContain('OrderPlaced.avsc');
    expect(fatal?.msg).toContain('compatibility BACKWARD');
    expect(fatal?.msg).toMatch(/incompatible/i);
  }, 180_000);

  it('with auto-registration off, a missing subject stops the start naming it; registered beforehand, its id is used', async () => {
    const names = await table('registry_noauto');
    const extra = {
      SCHEMA_REGISTRY_AUTO_REGISTER: 'false',
      SCHEMA_REGISTRY_SUBJECT_STRATEGY: 'record',
    };
    const missing = new RelayProcess(env(names, 'v1', extra));
    expect(await missing.exited).toBe(1);
    const fatal = missing.logs.find((l) => l.level === 'fatal');
    expect(fatal?.code).toBe('SCHEMA_REGISTRY');
    expect(fatal?.msg).toContain(`SCHEMA_REGISTRY_AUTO_REGISTER=false: subject ${PLACED}`);

    // Registered the way a CI job would (RecordNameStrategy subjects are the full names).
    const ids: Record<string, number> = {};
    for (const [subject, file] of [
      [PLACED, 'OrderPlaced.avsc'],
      [SHIPPED, 'OrderShipped.avsc'],
    ] as const) {
      const schema = JSON.stringify(JSON.parse(readFileSync(join(FIXTURES, 'v1', file), 'utf8')));
      ids[subject] = (
        await api<{ id: number }>('POST', `subjects/${subject}/versions`, { schema })
      ).id;
    }
    const relay = new RelayProcess(env(names, 'v1', extra));
    await relay.waitUntilStreaming();
    const row = outboxRow('order', 'o-9', 'OrderShipped', shipped('o-9'));
    await withSql(url, (sql) => insertRows(sql, names.table, [row]));
    const [record] = await readTopic(brokers, `${names.topicPrefix}.order`, { count: 1 });
    expect(schemaId(record!)).toBe(ids[SHIPPED]);
    expect(await decoder.decode(record!.value!)).toEqual(row.payload);
    expect(await relay.stop()).toBe(0);
  }, 120_000);

  it('pauses while the registry does not answer and loses nothing once it does', async () => {
    const names = await table('registry_down');
    const topic = `${names.topicPrefix}.order`;
    const relay = new RelayProcess(
      env(names, 'v1', { SCHEMA_REGISTRY_TIMEOUT_MS: '500', LOG_LEVEL: 'info' }),
    );
    await relay.waitUntilStreaming();
    await withSql(url, (sql) =>
      insertRows(sql, names.table, [outboxRow('order', 'o-1', 'OrderPlaced', placed('o-1'))]),
    );
    await readTopic(brokers, topic, { count: 1 });
    const before = await withSql(url, async (sql) => {
      const { rows } = await sql.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
      return rows[0]!.lsn;
    });
    registry.pause();
    const blocked = [
      outboxRow('order', 'o-1', 'OrderShipped', shipped('o-1')), // a new subject: needs the registry
      outboxRow('order', 'o-1', 'OrderPlaced', placed('o-1', { coupon: 'AGAIN' })),
    ];
    try {
      await withSql(url, (sql) => insertRows(sql, names.table, blocked));
      await relay.waitForLog(
        (l) => l.level === 'warn' && l.code === 'SCHEMA_REGISTRY' && /retrying/.test(l.msg),
        'a retry while the registry is down',
      );
      await new Promise((r) => setTimeout(r, 3000));
      expect(await readTopic(brokers, topic, { count: 1, settleMs: 500 })).toHaveLength(1);
      // Nothing after the blocked rows was confirmed to PostgreSQL.
      const confirmedPast = await withSql(url, async (sql) => {
        const { rows } = await sql.query<{ past: boolean }>(
          'select confirmed_flush_lsn > $1::pg_lsn as past from pg_replication_slots where slot_name = $2',
          [before, names.slot],
        );
        return rows[0]!.past;
      });
      expect(confirmedPast).toBe(false);
    } finally {
      registry.resume();
    }
    const records = await readTopic(brokers, topic, { count: 3, settleMs: 1000 });
    expect(records.map((r) => r.headers.id).slice(1)).toEqual(blocked.map((r) => r.id));
    for (const [i, record] of records.slice(1).entries())
      expect(await decoder.decode(record.value!)).toEqual(blocked[i]!.payload);
    expect(await relay.stop()).toBe(0);
  }, 120_000);

  describe('behind TLS and basic authentication', () => {
    const USER = 'relay';
    const PASSWORD = 'registry-s3cret';
    let dir: string;
    let proxy: Server;
    let proxyUrl: string;
    let authorized = 0;
    let caFile: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'outbox-registry-tls-'));
      const certs = makeCertificates(dir);
      const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
      // An HTTPS front that checks the credentials and passes the call on to the registry.
      proxy = createServer(
        { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) },
        (req, res) => {
          if (req.headers.authorization !== expected) {
            res.writeHead(401, { 'content-type': 'application/json' });
            res.end('{"error_code":401,"message":"Unauthorized"}');
            return;
          }
          authorized++;
          const upstream = httpRequest(
            {
              host: '127.0.0.1',
              port: registry.port,
              path: req.url,
              method: req.method,
              headers: { ...req.headers, host: `127.0.0.1:${registry.port}` },
            },
            (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
            },
          );
          upstream.on('error', () => res.destroy());
          req.pipe(upstream);
        },
      );
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const address = proxy.address() as { port: number };
      proxyUrl = `https://127.0.0.1:${address.port}/apis/ccompat/v7`;
      caFile = certs.ca;
    });

    afterAll(async () => {
      await new Promise((resolve) => proxy?.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    it('authenticates, trusts the configured CA, and never logs the password', async () => {
      const names = await table('registry_tls');
      const secure = (password: string) =>
        env(names, 'v1', {
          SCHEMA_REGISTRY_URL: proxyUrl,
          SCHEMA_REGISTRY_USERNAME: USER,
          SCHEMA_REGISTRY_PASSWORD: password,
          SCHEMA_REGISTRY_CA_FILE: caFile,
        });
      const wrong = new RelayProcess(secure('not-the-password'));
      expect(await wrong.exited).toBe(1);
      const fatal = wrong.logs.find((l) => l.level === 'fatal');
      expect(fatal?.code).toBe('SCHEMA_REGISTRY');
      expect(fatal?.msg).toContain('401');
      expect(fatal?.msg).toContain('SCHEMA_REGISTRY_USERNAME');

      const relay = new RelayProcess(secure(PASSWORD));
      await relay.waitUntilStreaming();
      const row = outboxRow('order', 'o-5', 'OrderPlaced', placed('o-5'));
      await withSql(url, (sql) => insertRows(sql, names.table, [row]));
      const [record] = await readTopic(brokers, `${names.topicPrefix}.order`, { count: 1 });
      expect(await decoder.decode(record!.value!)).toEqual(row.payload);
      expect(authorized).toBeGreaterThan(0);
      expect(await relay.stop()).toBe(0);
      const logged = [...relay.logs, ...wrong.logs].map((l) => JSON.stringify(l)).join('\n');
      expect(logged).not.toContain(PASSWORD);
      expect(logged).toContain('https://127.0.0.1:');
    }, 120_000);
  });
});
