import { javaPartition, murmur2 } from '../../helpers/java-partitioner';

// Reference values printed by the Java client (org.apache.kafka.common.utils.Utils.murmur2 and
// toPositive(h) % n) from kafka-clients 4.1.1; the first six are also Kafka's own UtilsTest vectors.
const JAVA_REFERENCE: Array<[string, number, number, number]> = [
  ['21', -973932308, 0, 0],
  ['foobar', -790332482, 0, 6],
  ['a-little-bit-long-string', -985981536, 2, 8],
  ['a-little-bit-longer-string', -1486304829, 2, 11],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971, 2, 5],
  ['abc', 479470107, 0, 3],
  ['', 275646681, 0, 9],
  ['order-42', 501153024, 0, 0],
  ['ünïcödé-ключ', -390712212, 2, 8],
  ['customer:7f9c0a3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b', 618061618, 1, 10],
];

describe('javaPartition', () => {
  it.each(JAVA_REFERENCE)('hashes %j like the Java client', (key, hash, p3, p12) => {
    expect(murmur2(Buffer.from(key, 'utf8'))).toBe(hash);
    expect(javaPartition(key, 3)).toBe(p3);
    expect(javaPartition(key, 12)).toBe(p12);
  });
});
