import { readFileSync } from 'node:fs';
import { RelayMetrics } from '../../../src/ops/metrics';
import { RelayState } from '../../../src/ops/state';

describe('RelayMetrics', () => {
  const metrics = new RelayMetrics(new RelayState('slot', 'pub'));
  const own = metrics.registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((name) => !/^outbox_relay_(process|nodejs)_/.test(name));

  it('names every metric with the outbox_relay_ prefix', () => {
    expect(own.length).toBeGreaterThan(15);
    expect(
      metrics.registry.getMetricsAsArray().filter((m) => !m.name.startsWith('outbox_relay_')),
    ).toEqual([]);
  });

  it('documents every metric in the README', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(own.filter((name) => !readme.includes(`\`${name}`))).toEqual([]);
  });

  it('reports 0 for gauges until there is a first sample', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^outbox_relay_replication_lag_bytes 0$/m);
    expect(text).toMatch(/^outbox_relay_in_flight_events 0$/m);
    expect(text).toMatch(/^outbox_relay_role\{role="starting"\} 1$/m);
  });
});
