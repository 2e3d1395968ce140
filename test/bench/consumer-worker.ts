/**
 * The benchmark's measuring consumer, in a worker thread: its fetches and decoding do not share
 * an event loop with the writers whose COMMIT times it is compared with. Posts the arrival time
 * (`now()`, a clock threads share) of each payload `seq` >= `seqBase`, in batches. A fresh group
 * that starts at the topic's end (the writers start 500 ms after it joined): earlier runs'
 * records on the topic are not read again, so catching up on them cannot delay the measured
 * ones. (Waiting for the high watermark instead never ends on a transactional topic: its last
 * offset is a commit marker no consumer is handed.)
 */
import { randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { kafkaClient } from '../helpers/kafka';
import { now, payloadSeq } from './measure';

export interface ConsumerWorkerData {
  brokers: string;
  topic: string;
  seqBase: number;
}

export type ConsumerWorkerMessage =
  | { type: 'joined' }
  | { type: 'arrivals'; arrivals: Array<[number, number]> }
  | { type: 'stopped' };

async function main(): Promise<void> {
  const { brokers, topic, seqBase } = workerData as ConsumerWorkerData;
  const post = (message: ConsumerWorkerMessage) => parentPort!.postMessage(message);
  const kafka = kafkaClient([brokers]);
  const consumer = kafka.consumer({
    groupId: `bench-${randomUUID()}`,
    maxWaitTimeInMs: 10,
  });
  const seen = new Set<number>();
  let pending: Array<[number, number]> = [];
  const flush = setInterval(() => {
    if (pending.length === 0) return;
    post({ type: 'arrivals', arrivals: pending });
    pending = [];
  }, 100);
  consumer.on(consumer.events.GROUP_JOIN, () => post({ type: 'joined' }));
  parentPort!.once('message', () => {
    void consumer.disconnect().finally(() => {
      clearInterval(flush);
      if (pending.length > 0) post({ type: 'arrivals', arrivals: pending });
      post({ type: 'stopped' });
    });
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  await consumer.run({
    // No offset commits: kafkajs commits synchronously between fetches, and on this broker each
    // commit held the next fetch back by ~40 ms (ack-to-arrival p50 40-48 ms, 0.5 ms without).
    autoCommit: false,
    eachMessage: ({ message }) => {
      const seq = payloadSeq(message.value);
      if (seq !== undefined && seq >= seqBase && !seen.has(seq)) {
        seen.add(seq);
        pending.push([seq, now()]);
      }
      return Promise.resolve();
    },
  });
}

main().catch((err: unknown) => {
  // Uncaught in the worker: the parent sees it as the worker's 'error' event.
  process.nextTick(() => {
    throw err;
  });
});
