import { randomUUID } from 'node:crypto';
import { readTopic } from '../../helpers/kafka';
import {
  dropOutbox,
  outboxNames,
  relayEnv,
  slotConfirmedLsn,
  walPosition,
  withSql,
} from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';
import { waitFor } from '../../helpers/wait-for';

type Row = [
  id: string | null,
  aggregateType: string | null,
  aggregateId: string | null,
  type: string | null,
  payload: string | null,
];

describe('relay: dead letters', () => {
  const names = outboxNames('dlq');
  const url = testDatabaseUrl();
  const dlqTopic = `${names.topicPrefix}.dlq`;

  afterAll(async () => {
    await dropOutbox(url, names);
  });

  it('dead-letters each kind of bad row with its reason, and the stream goes on', async () => {
    // A lax table (nullable columns, text payload) so every kind of bad row can be written.
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (id uuid, aggregatetype text, aggregateid text, type text, payload text)`,
      ),
    );
    const relay = new RelayProcess(
      relayEnv(names, { DEAD_LETTER_TOPIC: dlqTopic, KAFKA_MAX_RECORD_BYTES: '20000' }),
    );
    await relay.waitUntilStreaming();

    const id = () => randomUUID();
    const good1: Row = [id(), 'good', 'good-1', 'Happened', '{"n": 1}'];
    const bad: Array<[reason: string, row: Row]> = [
      ['MISSING_ID', [null, 'good', 'bad-1', 'Happened', '{}']],
      ['MISSING_AGGREGATE_TYPE', [id(), '  ', 'bad-2', 'Happened', '{}']],
      ['MISSING_AGGREGATE_ID', [id(), 'good', null, 'Happened', '{}']],
      ['MISSING_TYPE', [id(), 'good', 'bad-4', '', '{}']],
      ['INVALID_TOPIC', [id(), 'no spaces allowed', 'bad-5', 'Happened', '{}']],
      ['PAYLOAD_NOT_JSON', [id(), 'good', 'bad-6', 'Happened', 'hello, not json']],
      [
        'RECORD_TOO_LARGE',
        [id(), 'good', 'bad-7', 'Happened', JSON.stringify({ blob: 'x'.repeat(60_000) })],
      ],
    ];
    const good2: Row = [id(), 'good', 'good-2', 'Happened', '{"n": 2}'];
    const lastLsn = await withSql(url, async (sql) => {
      for (const row of [good1, ...bad.map(([, r]) => r), good2]) {
        await sql.query(`insert into ${names.table} values ($1, $2, $3, $4, $5)`, row);
      }
      return walPosition(sql);
    });

    const goodRecords = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.good`, {
      count: 2,
      settleMs: 1000,
    });
    // Two keys, possibly two partitions: arrival order across partitions is not defined.
    expect(goodRecords.map((r) => r.key).sort()).toEqual(['good-1', 'good-2']);

    const letters = await readTopic(testKafkaBrokers(), dlqTopic, {
      count: bad.length,
      timeoutMs: 30_000,
      settleMs: 1000,
    });
    expect(letters.map((r) => r.headers['dlq.reason'])).toEqual(
      expect.arrayContaining(bad.map(([reason]) => reason)),
    );
    expect(letters).toHaveLength(bad.length);
    for (const [reason, row] of bad) {
      const letter = letters.find((r) => r.headers['dlq.reason'] === reason)!;
      expect(letter.headers['dlq.source.table']).toBe(`public.${names.table}`);
      expect(letter.headers['dlq.message']).toBeTruthy();
      expect(letter.headers['dlq.source.lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      if (row[0] !== null) expect(letter.headers['dlq.event.id']).toBe(row[0]);
      const value = JSON.parse(letter.value!.toString()) as Record<string, string | null>;
      expect(Object.keys(value).sort()).toEqual([
        'aggregateid',
        'aggregatetype',
        'id',
        'payload',
        'type',
      ]);
      if (reason === 'RECORD_TOO_LARGE') {
        expect(letter.headers['dlq.omitted.columns']).toBe('payload');
        expect(letter.headers['dlq.intended.topic']).toBe(`${names.topicPrefix}.good`);
        expect(value.payload).toBeNull();
      } else {
        expect(value).toEqual({
          id: row[0],
          aggregatetype: row[1],
          aggregateid: row[2],
          type: row[3],
          payload: row[4],
        });
      }
    }
    expect(
      letters.find((r) => r.headers['dlq.reason'] === 'INVALID_TOPIC')!.headers[
        'dlq.intended.topic'
      ],
    ).toBe(`${names.topicPrefix}.no spaces allowed`);
    expect(
      relay.logs.filter((l) => l.level === 'warn' && /^dead-lettered/.test(l.msg)),
    ).toHaveLength(bad.length);

    // Dead letters are confirmed like events: the slot moves past all of them.
    await waitFor(() => slotConfirmedLsn(url, names.slot).then((lsn) => lsn >= lastLsn), {
      timeoutMs: 20_000,
      description: 'the slot to confirm past the dead letters',
    });
    expect(await relay.stop()).toBe(0);
  });
});
