import { CompressionTypes } from 'kafkajs';
import { javaPartition } from '../../helpers/java-partitioner';
import { kafkaClient, readTopic } from '../../helpers/kafka';
import { uniqueName } from '../../helpers/names';
import { testKafkaBrokers } from '../../helpers/services';

describe('Kafka test service', () => {
  it('round-trips keyed records with headers through a 3-partition topic', async () => {
    const brokers = testKafkaBrokers();
    const topic = uniqueName('smoke');
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }

    const keys = Array.from({ length: 12 }, (_, i) => `aggregate-${i}`);
    const sent = keys.flatMap((key) => [0, 1, 2].map((seq) => ({ key, seq, id: `${key}#${seq}` })));
    const producer = kafkaClient(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.None,
        messages: sent.map(({ key, seq, id }) => ({
          key,
          value: JSON.stringify({ seq }),
          headers: { id, type: 'SmokeTested' },
        })),
      });
    } finally {
      await producer.disconnect();
    }

    const received = await readTopic(brokers, topic, { count: sent.length, timeoutMs: 30_000 });

    expect(received).toHaveLength(sent.length);
    const partitionsUsed = new Set(received.map((r) => r.partition));
    expect(partitionsUsed.size).toBeGreaterThan(1);
    for (const record of received) {
      expect(record.key).not.toBeNull();
      // Same placement as the Java client's default partitioner: what consumers elsewhere expect.
      expect(record.partition).toBe(javaPartition(record.key!, 3));
      expect(record.headers.type).toBe('SmokeTested');
      const { seq } = JSON.parse(record.value!.toString()) as { seq: number };
      expect(record.headers.id).toBe(`${record.key}#${seq}`);
    }
    for (const key of keys) {
      const seqs = received
        .filter((r) => r.key === key)
        .map((r) => (JSON.parse(r.value!.toString()) as { seq: number }).seq);
      expect(seqs).toEqual([0, 1, 2]);
    }
  });
});
