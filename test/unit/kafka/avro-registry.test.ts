import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import pino from 'pino';
import type { DomainEvent } from '../../../src/events/domain-event';
import { isRelayError, RelayError } from '../../../src/errors';
import { isRetriableKafkaError } from '../../../src/kafka/errors';
import { AvroRegistryFormat, subjectFor } from '../../../src/kafka/formats/avro-registry';
import { AvroSchemas } from '../../../src/kafka/formats/avro-schemas';
import { RegistryClient } from '../../../src/kafka/formats/registry-client';
import { TopicTemplate } from '../../../src/kafka/topic-name';

const SCHEMAS = AvroSchemas.load(join(__dirname, '..', '..', '..', 'schemas', 'avro'));

function event(type: string, payload: unknown): DomainEvent {
  return {
    id: '6f1c2d4e-0000-4000-8000-000000000001',
    aggregateType: 'member',
    aggregateId: 'm-1',
    type,
    payload: Buffer.from(JSON.stringify(payload)),
    fields: {},
  } as unknown as DomainEvent;
}

/** A registry stand-in answering from `handle`; counts the calls. */
async function fakeRegistry(
  handle: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<{ server: Server; url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url}`);
      handle(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/ccompat`, calls };
}

function format(url: string, autoRegister = true) {
  return new AvroRegistryFormat(
    SCHEMAS,
    new RegistryClient({ url, timeoutMs: 1000 }),
    {
      strategy: 'topic-record',
      autoRegister,
      topicTemplate: TopicTemplate.parse('t.{aggregateType}'),
    },
    pino({ level: 'silent' }),
  );
}

const created = { id: 'm-1', name: 'ada', tier: 'gold', age: null };

describe('subject name strategies', () => {
  it('nameSubjectsAsConfluentsStrategiesDo', () => {
    expect(subjectFor('topic-record', 'outbox.event.order', 'shop.OrderPlaced')).toBe(
      'outbox.event.order-shop.OrderPlaced',
    );
    expect(subjectFor('record', 'outbox.event.order', 'shop.OrderPlaced')).toBe('shop.OrderPlaced');
    expect(subjectFor('topic', 'outbox.event.order', 'shop.OrderPlaced')).toBe(
      'outbox.event.order-value',
    );
  });
});

describe('AvroRegistryFormat', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  it('writesTheConfluentWireFormatWithTheIdResolvedOncePerSubject', async () => {
    const registry = await fakeRegistry((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":4242}');
    });
    servers.push(registry.server);
    const avro = format(registry.url);
    const records = [1, 2, 3].map(() => {
      const headers: Record<string, string> = {};
      const encoded = avro.encode(event('MemberCreated', created), headers, 't.member');
      if (!encoded.ok) throw new Error(encoded.message);
      expect(headers['avro.schema']).toBe('demo.member.MemberCreated');
      return { topic: 't.member', value: encoded.value };
    });
    await avro.resolve(records.slice(0, 1));
    await avro.resolve(records.slice(1)); // cached: no second call
    expect(registry.calls).toEqual([
      'POST /ccompat/subjects/t.member-demo.member.MemberCreated/versions',
    ]);
    // Once the subject's id is known, a new value carries it from the start.
    const later = avro.encode(event('MemberCreated', created), {}, 't.member');
    expect(later.ok && later.value!.readUInt32BE(1)).toBe(4242);
    expect(registry.calls).toHaveLength(1);
    const schema = SCHEMAS.forEventType('MemberCreated')!;
    for (const { value } of records) {
      expect(value![0]).toBe(0);
      expect(value!.readUInt32BE(1)).toBe(4242);
      expect(schema.type.fromBuffer(value!.subarray(5))).toMatchObject({ id: 'm-1', tier: 'gold' });
    }
  });

  it('failsWithTheSubjectAndCompatibilityOnAConflict, retriablyWhenTheRegistryIsDown', async () => {
    const registry = await fakeRegistry((req, _body, res) => {
      res.writeHead(req.method === 'GET' ? 200 : 409, { 'content-type': 'application/json' });
      res.end(
        req.method === 'GET'
          ? '{"compatibilityLevel":"FULL"}'
          : '{"error_code":409,"message":"Schema being registered is incompatible"}',
      );
    });
    servers.push(registry.server);
    const avro = format(registry.url);
    const value = avro.encode(event('MemberCreated', created), {}, 't.member');
    expect(value.ok).toBe(true);
    const conflict = await avro
      .resolve([{ topic: 't.member', value: value.ok ? value.value : null }])
      .catch((e: unknown) => e);
    expect(isRelayError(conflict, 'SCHEMA_REGISTRY')).toBe(true);
    expect((conflict as RelayError).retriable).toBe(false);
    expect((conflict as RelayError).message).toMatch(
      /MemberCreated\.avsc .* under subject t\.member-demo\.member\.MemberCreated: incompatible .* \(compatibility FULL; .*Schema being registered is incompatible/,
    );
    expect(isRetriableKafkaError(conflict)).toBe(false);

    // Nobody listening: retriable, so the publisher keeps the batch and tries again.
    const down = format('http://127.0.0.1:9/');
    const pending = down.encode(event('MemberCreated', created), {}, 't.member');
    const refused = await down
      .resolve([{ topic: 't.member', value: pending.ok ? pending.value : null }])
      .catch((e: unknown) => e);
    expect(isRelayError(refused, 'SCHEMA_REGISTRY')).toBe(true);
    expect(isRetriableKafkaError(refused)).toBe(true);
  });

  it('withoutAutoRegistration, looksUpAndNamesAMissingSubject', async () => {
    const registry = await fakeRegistry((_req, _body, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error_code":40401,"message":"Subject not found"}');
    });
    servers.push(registry.server);
    const avro = format(registry.url, false);
    const value = avro.encode(
      event('MemberUpdated', { id: 'm-1', tier: 'basic', version: 2 }),
      {},
      't.member',
    );
    const missing = await avro
      .resolve([{ topic: 't.member', value: value.ok ? value.value : null }])
      .catch((e: unknown) => e);
    expect(registry.calls).toEqual(['POST /ccompat/subjects/t.member-demo.member.MemberUpdated']);
    expect((missing as Error).message).toContain(
      'SCHEMA_REGISTRY_AUTO_REGISTER=false: subject t.member-demo.member.MemberUpdated has no version equal to MemberUpdated.avsc',
    );
  });
});

describe('isRetriableKafkaError', () => {
  it('takesTheRelaysOwnErrorsAtTheirWord', () => {
    expect(isRetriableKafkaError(new RelayError('EVENT_INVALID', 'x'))).toBe(false);
    expect(isRetriableKafkaError(new RelayError('SCHEMA_REGISTRY', 'x', { retriable: true }))).toBe(
      true,
    );
  });
});
