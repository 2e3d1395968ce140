/**
 * The benchmark's measuring consumer, in a worker thread: its fetches and decoding do not share
 * an event loop with the writers whose COMMIT times it is compared with. Posts the arrival time
 * (`now()`, a clock threads share) of each payload `seq` >= `seqBase`, in batches. It reports
 * `joined` once it has read up to the topic's end as of its start: earlier runs' records on the
 * topic are behind it, so catching up on them does not delay the measured ones.
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
  const admin = kafka.admin();
  await admin.connect();
  // Per partition, the offset of the last record already on the topic (-1: empty).
  const behind = new Map<number, bigint>();
  for (const { partition, high, low } of await admin.fetchTopicOffsets(topic))
    if (BigInt(high) > BigInt(low)) behind.set(partition, BigInt(high) - 1n);
  await admin.disconnect();
  let joined = false;
  const joinedWhenCaughtUp = () => {
    if (joined && behind.size === 0) {
      joined = false;
      post({ type: 'joined' });
    }
  };
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
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
    joinedWhenCaughtUp();
  });
  parentPort!.once('message', () => {
    void consumer.disconnect().finally(() => {
      clearInterval(flush);
      if (pending.length > 0) post({ type: 'arrivals', arrivals: pending });
      post({ type: 'stopped' });
    });
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    // No offset commits: kafkajs commits synchronously between fetches, and on this broker each
    // commit held the next fetch back by ~40 ms (ack-to-arrival p50 40-48 ms, 0.5 ms without).
    autoCommit: false,
    eachMessage: ({ partition, message }) => {
      const last = behind.get(partition);
      if (last !== undefined && BigInt(message.offset) >= last) {
        behind.delete(partition);
        joinedWhenCaughtUp();
      }
      if (last !== undefined) return Promise.resolve(); // a record from before this run
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
