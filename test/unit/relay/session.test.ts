import pino from 'pino';
import type { EventSink } from '../../../src/delivery/delivery';
import { DEBEZIUM_LAYOUT } from '../../../src/events/outbox-mapper';
import { RecordMapper } from '../../../src/kafka/record-mapper';
import type { ReplicationStream } from '../../../src/replication/replication-stream';
import { KEEPALIVE, XLOG_DATA, XLOG_DATA_HEADER } from '../../../src/replication/protocol';
import { CONFIRM_INTERVAL_MS } from '../../../src/relay/confirmations';
import { StreamSession, type EventToken } from '../../../src/relay/session';
import { TableName } from '../../../src/table-name';
import { PgoutputBuilder } from '../replication/pgoutput-builder';

const TEXT = 25;
const UUID = 2950;
const JSONB = 3802;

/** A session over a fake stream that records the confirmed positions it is sent. */
function sessionWithStream() {
  const sent: Array<{ lsn: bigint; reply: boolean }> = [];
  const stream = {
    isPaused: false,
    sendStatus: (lsn: bigint, reply = false) => sent.push({ lsn, reply }),
    pause: () => undefined,
    resume: () => undefined,
  } as unknown as ReplicationStream;
  const tokens: EventToken[] = [];
  const sink: EventSink<EventToken> = {
    enqueue: (_record, _bytes, token) => tokens.push(token),
    transactionEnded: () => undefined,
    whenIdle: () => Promise.resolve(),
    isStopped: false,
  };
  const session = new StreamSession(
    0n,
    {
      table: new TableName('public', 'outbox'),
      layout: DEBEZIUM_LAYOUT,
      maxInFlightEvents: 1000,
      maxInFlightBytes: 10_000_000,
      onInvalidEvent: 'fail',
      deadLetterTopic: 'dlq',
      maxRecordBytes: 1_000_000,
      messagePrefix: undefined,
      onHeartbeat: () => undefined,
      onDeadLetter: () => undefined,
    },
    new RecordMapper('outbox.event.{aggregateType}'),
    pino({ level: 'silent' }),
  );
  session.attach(stream);
  session.start(sink, undefined);
  // XLogData as the server sends it: 'w', two positions and the send time, then the message;
  // handed over in the middle of other bytes, as a range of the socket's chunk.
  const header = Buffer.alloc(XLOG_DATA_HEADER);
  header[0] = XLOG_DATA;
  const around = Buffer.alloc(7, 0xff);
  const data = (buffer: Buffer) => {
    const chunk = Buffer.concat([around, header, buffer, around]);
    session.handle(chunk, around.length, chunk.length - around.length);
  };
  data(
    PgoutputBuilder.relation(16384, 'public', 'outbox', [
      ['id', UUID],
      ['aggregatetype', TEXT],
      ['aggregateid', TEXT],
      ['type', TEXT],
      ['payload', JSONB],
    ]),
  );
  let xid = 700;
  /** One single-row transaction ending at `endLsn`; returns its token. */
  const transaction = (endLsn: bigint): EventToken => {
    data(PgoutputBuilder.begin(endLsn - 8n, 1_700_000_000_000_000n, xid++));
    data(
      PgoutputBuilder.insert(16384, [
        `00000000-0000-0000-0000-${String(xid).padStart(12, '0')}`,
        'order',
        'o-1',
        'OrderPlaced',
        '{}',
      ]),
    );
    data(PgoutputBuilder.commit(endLsn - 8n, endLsn, 1_700_000_000_000_000n));
    return tokens[tokens.length - 1]!;
  };
  return { session, sent, transaction };
}

describe('StreamSession confirmations', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('confirms the first acknowledgement at once and the ones soon after once, at the interval end', () => {
    const { session, sent, transaction } = sessionWithStream();
    const first = transaction(100n);
    session.acked([first]);
    expect(sent).toEqual([{ lsn: 100n, reply: false }]);

    // Three more transactions acknowledged within the interval: nothing is sent yet ...
    for (const end of [200n, 300n, 400n]) {
      jest.advanceTimersByTime(10);
      session.acked([transaction(end)]);
    }
    expect(sent).toHaveLength(1);
    // ... and at its end, one confirmation of the newest position.
    jest.advanceTimersByTime(CONFIRM_INTERVAL_MS);
    expect(sent).toEqual([
      { lsn: 100n, reply: false },
      { lsn: 400n, reply: false },
    ]);
    expect(session.confirmed).toBe(400n);

    // Nothing new: nothing more is sent.
    jest.advanceTimersByTime(10 * CONFIRM_INTERVAL_MS);
    expect(sent).toHaveLength(2);
  });

  it('fails on a CopyData message that is neither XLogData nor a keepalive, and reads no further', () => {
    const { session, sent, transaction } = sessionWithStream();
    const failures: string[] = [];
    session.onFailure((err) => failures.push(`${err.code}: ${err.message}`));
    const chunk = Buffer.from([0x00, 0x78, 0x01]);
    session.handle(chunk, 1, 3);
    expect(failures).toEqual([
      expect.stringContaining('REPLICATION_PROTOCOL') as unknown as string,
    ]);
    expect(failures[0]).toContain('unexpected replication message type 0x78');
    transaction(100n);
    expect(sent).toHaveLength(0);
  });

  it('answers a keepalive that asks for a reply at once, with the newest position', () => {
    const { session, sent, transaction } = sessionWithStream();
    session.acked([transaction(100n)]);
    session.acked([transaction(200n)]);
    expect(sent).toHaveLength(1);
    const keepalive = Buffer.alloc(18);
    keepalive[0] = KEEPALIVE;
    keepalive.writeBigUInt64BE(200n, 1);
    keepalive[17] = 1;
    session.handle(keepalive, 0, keepalive.length);
    expect(sent).toEqual([
      { lsn: 100n, reply: false },
      { lsn: 200n, reply: false },
    ]);
    // The deferred confirmation was superseded: it sends nothing more.
    jest.advanceTimersByTime(10 * CONFIRM_INTERVAL_MS);
    expect(sent).toHaveLength(2);
  });

  it('sends nothing deferred after the session ended', () => {
    const { session, sent, transaction } = sessionWithStream();
    session.acked([transaction(100n)]);
    session.acked([transaction(200n)]);
    session.end();
    jest.advanceTimersByTime(10 * CONFIRM_INTERVAL_MS);
    expect(sent).toEqual([{ lsn: 100n, reply: false }]);
  });
});
