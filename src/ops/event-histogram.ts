import type { Metric, Registry } from 'prom-client';

/** One line of the exposition: what prom-client's registry formats. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** What the registry reads from a metric when scraped (prom-client's runtime shape). */
export interface HistogramSnapshot {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

/**
 * A label-less Prometheus histogram for values observed once per event on the data path. It
 * exposes exactly what prom-client's Histogram does (`_bucket{le=...}` cumulative, `+Inf`,
 * `_sum`, `_count`), but an observation is a bucket scan and three additions: prom-client's
 * observe builds label objects and a closure each time, which at tens of thousands of events per
 * second was a few percent of the relay's CPU.
 */
export class EventHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly bounds: readonly number[];
  /** counts[i]: observations in bucket i (not cumulative); the last one is above every bound. */
  private counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length + 1);
    // The registry only reads name, help, type, aggregator, get() and reset() of a metric.
    registry.registerMetric(this as unknown as Metric);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  get(): Promise<HistogramSnapshot> {
    const values: Sample[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += this.counts[i]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: bound }, value: cumulative });
    });
    values.push(
      { metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count },
      { metricName: `${this.name}_sum`, labels: {}, value: this.sum },
      { metricName: `${this.name}_count`, labels: {}, value: this.count },
    );
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {
    this.counts = new Float64Array(this.bounds.length + 1);
    this.sum = 0;
    this.count = 0;
  }
}
