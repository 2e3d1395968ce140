import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { kafkaClient } from '../helpers/kafka';
import { benchPayload, now, produceSeconds } from './measure';
import { createTopic } from './workload';

/**
 * Small produce requests sent back to back while a consumer fetches the same topic: the shape of
 * live traffic (a relay lingering 5 ms sends about 200 requests/s, the measuring consumer fetches
 * as they land). On a fresh test broker at 1,000 events/s, the broker took 0.50 cores in its first
 * 10 s and 0.15 after 40 s (8,000 requests), its compiler threads busy meanwhile; the bulk warm-up
 * alone (a few hundred large requests) left its per-request paths uncompiled, and the first
 * system measured paid for it (broker CPU per event on the first 1-row workload 11.5 us, 6.8 us
 * when the same workload ran again later in the run). Without any warm-up, the relay reached
 * 62-73k events/s as the first producer on a fresh broker and 68-81k/s later in the same run.
 */
const LIVE_REQUESTS = 15_000;
const LIVE_BATCH = 10;
const LIVE_LIMIT_S = 60;

/** Live-shaped requests: returns how many were sent and in how many seconds. */
async function liveShapedTraffic(
  brokers: string,
  aggregates: number,
): Promise<{ requests: number; fetched: number; seconds: number }> {
  const topic = 'bench_warm_up_live';
  await createTopic(brokers, topic);
  const kafka = kafkaClient([brokers]);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const consumer = kafka.consumer({
    groupId: `bench-warm-up-${randomUUID()}`,
    maxWaitTimeInMs: 10,
  });
  let fetched = 0;
  await Promise.all([producer.connect(), consumer.connect()]);
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        fetched += batch.messages.length;
        return Promise.resolve();
      },
    });
    const started = now();
    let requests = 0;
    let seq = 0;
    while (requests < LIVE_REQUESTS && now() - started < LIVE_LIMIT_S) {
      const messages = [];
      for (let i = 0; i < LIVE_BATCH; i++, seq++)
        messages.push({ key: `agg-${seq % aggregates}`, value: benchPayload(seq) });
      await producer.send({ topic, messages, acks: -1 });
      requests++;
    }
    return { requests, fetched, seconds: now() - started };
  } finally {
    await Promise.all([producer.disconnect(), consumer.disconnect()]);
  }
}

/**
 * Warms the broker's JVM before anything is measured: bulk produce (the catch-up runs' large
 * requests), then live-shaped traffic (the latency runs' small requests and fetches). Returns
 * what it did, for the log; none of it is a figure.
 */
export async function warmUpBroker(
  brokers: string,
  bulkEvents: number,
  aggregates: number,
): Promise<string> {
  const bulkS = await produceSeconds(brokers, 'bench_warm_up', bulkEvents, aggregates);
  const live = await liveShapedTraffic(brokers, aggregates);
  return (
    `${bulkEvents} records in large requests (${(bulkEvents / bulkS).toFixed(0)}/s), ` +
    `${live.requests} requests of ${LIVE_BATCH} records with a consumer fetching ` +
    `(${(live.requests / live.seconds).toFixed(0)} requests/s, ${live.fetched} records fetched)`
  );
}
