import { randomUUID } from 'node:crypto';
import { readTopic } from '../../helpers/kafka';
import { dropOutbox, outboxNames, relayEnv, withSql } from '../../helpers/outbox';
import { RelayProcess } from '../../helpers/relay-process';
import { testDatabaseUrl, testKafkaBrokers } from '../../helpers/services';

describe('relay: configured column names, header columns and event time', () => {
  const names = outboxNames('mapping');
  const url = testDatabaseUrl();

  afterAll(async () => {
    await dropOutbox(url, names);
  });

  it('maps renamed columns, copies header columns and trace context, and stamps the event time', async () => {
    await withSql(url, (sql) =>
      sql.query(
        `create table ${names.table} (event_id uuid primary key, stream text not null, stream_id text not null,
           kind text not null, body jsonb, occurred_at timestamptz not null, correlation_id text,
           causation_id text, traceparent text, tracestate text)`,
      ),
    );
    const relay = new RelayProcess(
      relayEnv(names, {
        OUTBOX_COLUMN_ID: 'event_id',
        OUTBOX_COLUMN_AGGREGATE_TYPE: 'stream',
        OUTBOX_COLUMN_AGGREGATE_ID: 'stream_id',
        OUTBOX_COLUMN_TYPE: 'kind',
        OUTBOX_COLUMN_PAYLOAD: 'body',
        OUTBOX_COLUMN_TIMESTAMP: 'occurred_at',
        OUTBOX_HEADER_COLUMNS: 'correlation_id:correlationId,causation_id',
      }),
    );
    await relay.waitUntilStreaming();
    const first = randomUUID();
    const second = randomUUID();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await withSql(url, async (sql) => {
      await sql.query(
        `insert into ${names.table} values ($1, 'invoice', 'inv-1', 'InvoiceIssued', '{"total": 10}',
           '2026-03-04 05:06:07.891+00', 'corr-1', null, $2, 'vendor=1')`,
        [first, traceparent],
      );
      // Dropping an optional column while streaming keeps working.
      await sql.query(`alter table ${names.table} drop column causation_id`);
      await sql.query(
        `insert into ${names.table} (event_id, stream, stream_id, kind, body, occurred_at) values ($1, 'invoice', 'inv-1', 'InvoicePaid', null, now())`,
        [second],
      );
    });
    const records = await readTopic(testKafkaBrokers(), `${names.topicPrefix}.invoice`, {
      count: 2,
      settleMs: 500,
    });
    expect(
      records.map((r) => ({ key: r.key, headers: r.headers, value: r.value?.toString() ?? null })),
    ).toEqual([
      {
        key: 'inv-1',
        headers: {
          id: first,
          type: 'InvoiceIssued',
          aggregateType: 'invoice',
          correlationId: 'corr-1',
          traceparent,
          tracestate: 'vendor=1',
        },
        value: '{"total": 10}',
      },
      {
        key: 'inv-1',
        headers: { id: second, type: 'InvoicePaid', aggregateType: 'invoice' },
        value: null,
      },
    ]);
    expect(records[0]!.timestamp).toBe(String(Date.parse('2026-03-04T05:06:07.891Z')));
    expect(relay.running).toBe(true);
    expect(await relay.stop()).toBe(0);
  });
});
