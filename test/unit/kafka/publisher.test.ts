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
