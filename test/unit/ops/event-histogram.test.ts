import { Histogram, Registry } from 'prom-client';
import { EventHistogram } from '../../../src/ops/event-histogram';

describe('EventHistogram', () => {
  const buckets = [0.005, 0.01, 0.025, 0.1, 1, 10];
  const values = [0, 0.001, 0.005, 0.0051, 0.01, 0.02, 0.5, 1, 9.99, 10, 10.5, 300, 0.025];

  it("scrapes exactly as prom-client's histogram does for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new EventHistogram('x_latency_seconds', 'Latency', buckets, ours);
    const reference = new Histogram({
      name: 'x_latency_seconds',
      help: 'Latency',
      buckets,
      registers: [theirs],
    });
    // Before any observation: zero buckets, sum and count.
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const value of values) {
      fast.observe(value);
      reference.observe(value);
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toMatch(/^x_latency_seconds_bucket\{le="0\.005"\} 3$/m);
    expect(text).toMatch(/^x_latency_seconds_bucket\{le="\+Inf"\} 13$/m);
    expect(text).toMatch(/^x_latency_seconds_count 13$/m);
  });

  it('starts over on reset, as the registry asks', async () => {
    const registry = new Registry();
    const fast = new EventHistogram('y_seconds', 'Y', buckets, registry);
    fast.observe(0.2);
    registry.resetMetrics();
    fast.observe(20);
    const text = await registry.metrics();
    expect(text).toMatch(/^y_seconds_bucket\{le="1"\} 0$/m);
    expect(text).toMatch(/^y_seconds_bucket\{le="\+Inf"\} 1$/m);
    expect(text).toMatch(/^y_seconds_sum 20$/m);
  });
});
