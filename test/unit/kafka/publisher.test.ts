import type { Producer } from 'kafkajs';
import pino from 'pino';
import { RelayError } from '../../../src/errors';
import { KafkaPublisher } from '../../../src/kafka/publisher';
import type { KafkaRecord } from '../../../src/kafka/record-mapper';
import { groupByTopic, type TopicCreator } from '../../../src/kafka/topics';

const record: KafkaRecord = {
  topic: 'events',
  key: 'k',
  value: Buffer.from('{}'),
  headers: {},
  timestamp: '0',
};

describe('KafkaPublisher', () => {
  it('lingers with a request that is not full for more events, and sends a full one at once', async () => {
    const requests: Array<{ records: number; at: number }> = [];
    const publisher = new KafkaPublisher<number>(
      {
        sendBatch: ({ topicMessages }: { topicMessages: Array<{ messages: unknown[] }> }) => {
          requests.push({ records: topicMessages[0]!.messages.length, at: performance.now() });
          return Promise.resolve([]);
        },
      } as unknown as Producer,
      {
        prepare: (records: KafkaRecord[]) => Promise.resolve(groupByTopic(records)),
      } as unknown as TopicCreator,
      {
        batchMaxEvents: 4,
        batchMaxBytes: 1_000_000,
        retryInitialMs: 1,
        retryMaxMs: 1,
        lingerMs: 60,
      },
      { onAcked: () => undefined, onFatal: () => undefined },
      pino({ level: 'silent' }),
    );
    // Three events 20 ms apart: one request with all three, sent 60 ms after the first.
    const start = performance.now();
    publisher.enqueue(record, 10, 1);
    await new Promise((r) => setTimeout(r, 20));
    publisher.enqueue(record, 10, 2);
    await new Promise((r) => setTimeout(r, 20));
    publisher.enqueue(record, 10, 3);
    await publisher.whenIdle();
    expect(requests.map((r) => r.records)).toEqual([3]);
    expect(requests[0]!.at - start).toBeGreaterThanOrEqual(55);
    // A full request (batchMaxEvents) does not wait; the rest lingers.
    requests.length = 0;
    const full = performance.now();
    for (let i = 0; i < 5; i++) publisher.enqueue(record, 10, i);
    await publisher.whenIdle();
    expect(requests.map((r) => r.records)).toEqual([4, 1]);
    expect(requests[0]!.at - full).toBeLessThan(40);
    expect(requests[1]!.at - full).toBeGreaterThanOrEqual(55);
  });

  it('canReportIdleOnceStoppedByAFatalErrorWithItemsStillQueued', async () => {
    const refused = Object.assign(new Error('The request included a message larger than the max'), {
      name: 'KafkaJSProtocolError',
      type: 'MESSAGE_TOO_LARGE',
      retriable: false,
    });
    const fatal: RelayError[] = [];
    const acked: number[][] = [];
    const publisher = new KafkaPublisher<number>(
      { sendBatch: () => Promise.reject(refused) } as unknown as Producer,
      {
        prepare: (records: KafkaRecord[]) => Promise.resolve(groupByTopic(records)),
      } as unknown as TopicCreator,
      { batchMaxEvents: 1, batchMaxBytes: 1_000_000, retryInitialMs: 1, retryMaxMs: 1 },
      { onAcked: (tokens) => acked.push(tokens), onFatal: (e) => fatal.push(e) },
      pino({ level: 'silent' }),
    );
    publisher.enqueue(record, 10, 1);
    publisher.enqueue(record, 10, 2);
    await publisher.whenIdle();
    expect(fatal.map((e) => e.code)).toEqual(['KAFKA_SEND']);
    expect(publisher.isStopped).toBe(true);
    // Asked again after the stop (as a shutdown drain does), with events never sent: it must
    // answer rather than leave the caller waiting for events that will never go out.
    const answered = await Promise.race([
      publisher.whenIdle().then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000)),
    ]);
    expect(answered).toBe(true);
    expect(acked).toEqual([]);
  });

  it('stopsOnTheRelaysOwnNonRetriableErrorWhilePreparing (ON_INVALID_EVENT=fail), retriesARetriableOne', async () => {
    const run = async (error: RelayError, failures: number) => {
      const fatal: RelayError[] = [];
      const retried: RelayError[] = [];
      const acked: number[][] = [];
      let prepared = 0;
      const publisher = new KafkaPublisher<number>(
        { sendBatch: () => Promise.resolve([]) } as unknown as Producer,
        {
          prepare: (records: KafkaRecord[]) =>
            ++prepared <= failures ? Promise.reject(error) : Promise.resolve(groupByTopic(records)),
        } as unknown as TopicCreator,
        { batchMaxEvents: 10, batchMaxBytes: 1_000_000, retryInitialMs: 1, retryMaxMs: 1 },
        {
          onAcked: (tokens) => acked.push(tokens),
          onFatal: (e) => fatal.push(e),
          onRetry: (e) => retried.push(e),
        },
        pino({ level: 'silent' }),
      );
      publisher.enqueue(record, 10, 1);
      await publisher.whenIdle();
      return { fatal, retried, acked };
    };
    const invalid = await run(new RelayError('EVENT_INVALID', 'partition 7 of 3'), Infinity);
    expect(invalid.fatal.map((e) => e.code)).toEqual(['EVENT_INVALID']);
    expect(invalid.acked).toEqual([]);
    const down = await run(new RelayError('SCHEMA_REGISTRY', 'no answer', { retriable: true }), 2);
    expect(down.retried.map((e) => e.code)).toEqual(['SCHEMA_REGISTRY', 'SCHEMA_REGISTRY']);
    expect(down.fatal).toEqual([]);
    expect(down.acked).toEqual([[1]]);
  });
});
