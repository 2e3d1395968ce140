import type { Producer, Transaction } from 'kafkajs';
import pino from 'pino';
import type { RelayError } from '../../../src/errors';
import type { KafkaRecord } from '../../../src/kafka/record-mapper';
import { groupByTopic, type TopicCreator } from '../../../src/kafka/topics';
import { TransactionalPublisher } from '../../../src/kafka/transactional-publisher';

interface Sent {
  topic: string;
  key: string | null;
  value: string;
}

/** A kafkajs producer stand-in that records each transaction's sends and its end. */
class FakeProducer {
  readonly transactions: Array<{ sent: Sent[]; ended?: 'commit' | 'abort' }> = [];
  failCommit: Error | undefined;

  transaction(): Promise<Transaction> {
    const txn: { sent: Sent[]; ended?: 'commit' | 'abort' } = { sent: [] };
    this.transactions.push(txn);
    const fake = {
      sendBatch: ({
        topicMessages,
      }: {
        topicMessages: Array<{
          topic: string;
          messages: Array<{ key: string | null; value: Buffer }>;
        }>;
      }) => {
        for (const { topic, messages } of topicMessages)
          for (const m of messages) txn.sent.push({ topic, key: m.key, value: m.value.toString() });
        return Promise.resolve([]);
      },
      commit: () => {
        if (this.failCommit !== undefined) return Promise.reject(this.failCommit);
        txn.ended = 'commit';
        return Promise.resolve();
      },
      abort: () => {
        txn.ended = 'abort';
        return Promise.resolve();
      },
      isActive: () => txn.ended === undefined,
    };
    return Promise.resolve(fake as unknown as Transaction);
  }
}

const record = (i: number): KafkaRecord => ({
  topic: 'events',
  key: `agg-${i % 3}`,
  value: Buffer.from(`{"i":${i}}`),
  headers: {},
  timestamp: '0',
});

async function setup(splitEvents = 100, intervalMs = 60_000, lanes = 1) {
  const fakes = Array.from({ length: lanes }, () => new FakeProducer());
  const producer = fakes[0]!;
  const acked: number[][] = [];
  const failures: RelayError[] = [];
  const fenced: RelayError[] = [];
  const publisher = new TransactionalPublisher<number>(
    await Promise.all(
      fakes.map(async (fake) => ({
        producer: fake as unknown as Producer,
        transaction: await fake.transaction(),
      })),
    ),
    {
      prepare: (records: KafkaRecord[]) => Promise.resolve(groupByTopic(records)),
    } as unknown as TopicCreator,
    undefined,
    {
      batchMaxEvents: 3,
      batchMaxBytes: 1_000_000,
      intervalMs,
      splitEvents,
      splitBytes: 1_000_000,
      positionTopic: 'positions',
      slot: 'slot_a',
      writer: 'test',
    },
    {
      onCommitted: (tokens) => acked.push(tokens),
      onFailed: (e) => failures.push(e),
      onFenced: (e) => fenced.push(e),
    },
    pino({ level: 'silent' }),
  );
  return { producer, fakes, publisher, acked, failures, fenced };
}

/** The position each committed transaction records: its last position record. */
const positions = (producer: FakeProducer) =>
  producer.transactions.flatMap((t) => {
    const last = t.sent.filter((s) => s.topic === 'positions').at(-1);
    return t.ended === 'commit' && last !== undefined
      ? [JSON.parse(last.value) as Record<string, unknown>]
      : [];
  });

describe('TransactionalPublisher', () => {
  it('canCommitOnlyWholeWalTransactionsWithThePositionAsTheLastRecord', async () => {
    const { producer, publisher, acked } = await setup();
    for (let i = 0; i < 5; i++)
      publisher.enqueue(record(i), 10, i, { commitLsn: 0x100n, index: i });
    await publisher.whenIdle();
    expect(producer.transactions[0]!.sent).toEqual([]); // the WAL transaction is still open
    publisher.transactionEnded(0x180n, 5_000n);
    await publisher.whenIdle();
    const [txn] = producer.transactions;
    expect(txn!.ended).toBe('commit');
    // Two requests (three events each at most); the position is the transaction's last record.
    expect(txn!.sent.map((s) => s.topic)).toEqual([
      ...Array.from({ length: 5 }, () => 'events'),
      'positions',
    ]);
    expect(txn!.sent.at(-1)!.key).toBe('slot_a');
    expect(positions(producer)).toEqual([
      expect.objectContaining({ lsn: '0/180', partialEvents: null }),
    ]);
    expect(acked).toEqual([[0, 1, 2, 3, 4]]);
  });

  it('canKeepAWalTransactionWholeWhenABatchBoundCutsIt', async () => {
    // Three events per request and a transaction due at once: the five events of the WAL
    // transaction still go into one Kafka transaction, over two requests.
    const { producer, publisher, acked } = await setup(100, 0);
    for (let i = 0; i < 5; i++)
      publisher.enqueue(record(i), 10, i, { commitLsn: 0x100n, index: i });
    publisher.transactionEnded(0x180n, 1n);
    publisher.enqueue(record(5), 10, 5, { commitLsn: 0x200n, index: 0 });
    publisher.transactionEnded(0x280n, 1n);
    await publisher.whenIdle();
    const committed = producer.transactions.filter((t) => t.ended === 'commit');
    expect(committed.map((t) => t.sent.filter((m) => m.topic === 'events').length)).toEqual([5, 1]);
    expect(positions(producer).map((p) => [p.lsn, p.partialEvents])).toEqual([
      ['0/180', null],
      ['0/280', null],
    ]);
    expect(acked).toEqual([[0, 1, 2, 3, 4], [5]]);
  });

  it('canSplitAWalTransactionPastTheBoundRecordingHowManyEventsAreOut', async () => {
    const { producer, publisher, acked } = await setup(4);
    for (let i = 0; i < 10; i++)
      publisher.enqueue(record(i), 10, i, { commitLsn: 0x200n, index: i });
    await publisher.whenIdle();
    // Split while at least 4 events of the open transaction wait; the rest waits for its end.
    const partial = positions(producer);
    expect(partial.length).toBeGreaterThan(0);
    for (const p of partial) expect(p).toMatchObject({ lsn: '0/0', partialCommitLsn: '0/200' });
    const out = partial.at(-1)!.partialEvents as number;
    expect(acked.flat()).toEqual(Array.from({ length: out }, (_, i) => i));
    expect(10 - out).toBeLessThan(4);
    publisher.transactionEnded(0x280n, 1n);
    await publisher.whenIdle();
    expect(positions(producer).at(-1)).toMatchObject({ lsn: '0/280', partialCommitLsn: null });
    expect(acked.flat()).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(producer.transactions.filter((t) => t.ended === 'commit').length).toBeGreaterThan(1);
  });

  it('canTakeTurnsOnTwoProducersCommittingInOrder', async () => {
    // The commit interval is over at once: each WAL transaction gets its own Kafka transaction.
    const { fakes, publisher, acked } = await setup(100, 0, 2);
    for (let t = 0; t < 4; t++) {
      publisher.enqueue(record(t), 10, t, { commitLsn: BigInt(0x100 * (t + 1)), index: 0 });
      publisher.transactionEnded(BigInt(0x100 * (t + 1) + 0x80), 1n);
      await publisher.whenIdle();
    }
    const committed = fakes.map((f) => f.transactions.filter((t) => t.ended === 'commit'));
    expect(committed.map((c) => c.length)).toEqual([2, 2]);
    const lsns = (i: number) =>
      committed[i]!.flatMap((t) => t.sent.filter((m) => m.topic === 'positions')).map(
        (m) => (JSON.parse(m.value) as { lsn: string }).lsn,
      );
    expect(lsns(0)).toEqual(['0/180', '0/380']);
    expect(lsns(1)).toEqual(['0/280', '0/480']);
    expect(acked).toEqual([[0], [1], [2], [3]]);
  });

  it('failsOnAFencedCommitWithoutAcknowledgingAndNeverSendsAgain', async () => {
    const { producer, publisher, acked, failures, fenced } = await setup();
    producer.failCommit = Object.assign(new Error('This producer epoch is no longer valid'), {
      name: 'KafkaJSProtocolError',
      type: 'INVALID_PRODUCER_EPOCH',
      retriable: false,
    });
    publisher.enqueue(record(1), 10, 1, { commitLsn: 0x300n, index: 0 });
    publisher.transactionEnded(0x380n, 1n);
    await publisher.whenIdle();
    expect(acked).toEqual([]);
    expect(failures.map((f) => [f.code, f.retriable])).toEqual([['KAFKA_FENCED', true]]);
    expect(fenced).toHaveLength(1);
    expect(publisher.isStopped).toBe(true);
    const before = producer.transactions.length;
    publisher.enqueue(record(2), 10, 2, { commitLsn: 0x400n, index: 0 });
    publisher.transactionEnded(0x480n, 1n);
    await publisher.whenIdle();
    expect(producer.transactions).toHaveLength(before);
  });
});
