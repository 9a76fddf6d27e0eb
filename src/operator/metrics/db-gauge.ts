import { Counter, Gauge, Histogram, type LabelValues, type Registry } from 'prom-client';

/** What a family's collect writes: one value per label set, read afresh at each scrape. */
export interface DbSeries {
  set(value: number): void;
  set(labels: LabelValues<string>, value: number): void;
  /** Adds to the label set's value (several rows may fold into one series). */
  inc(labels: LabelValues<string>, value: number): void;
}

/**
 * A metric family whose values are read afresh (from the database) at each scrape. A `_total` name is a
 * counter (Prometheus types it so, and `rate()` and `increase()` expect one): its values are counts of
 * append-only records, so they never go down; anything else is a gauge.
 */
export function dbGauges(registry: Registry, prefix: string) {
  return (name: string, help: string, labelNames: string[], collect: (g: DbSeries) => Promise<void>) => {
    const options = { name: `${prefix}${name}`, help, labelNames, registers: [registry] };
    if (!name.endsWith('_total'))
      return new Gauge({
        ...options,
        async collect() {
          this.reset();
          await collect(this);
        },
      });
    const counter: Counter = new Counter({
      ...options,
      // A counter's collect writes through the family itself: it is re-read whole, so reset first.
      collect: async () => {
        counter.reset();
        const add = (labels: LabelValues<string>, value: number) => counter.inc(labels, Math.max(0, value));
        await collect({
          set: (labelsOrValue: LabelValues<string> | number, value?: number) =>
            typeof labelsOrValue === 'number'
              ? counter.inc(Math.max(0, labelsOrValue))
              : add(labelsOrValue, value ?? 0),
          inc: add,
        } as DbSeries);
      },
    });
    return counter;
  };
}

/** A histogram as the database holds it: how many observations fell at or under each bucket, their sum and count. */
export interface DbHistogramReading {
  /** Cumulative counts, one per bucket, in bucket order. */
  atOrUnder: number[];
  sum: number;
  count: number;
}

/**
 * A latency histogram read whole from the database at each scrape (every recorded duration, so its buckets
 * only grow, as Prometheus expects of a histogram); `histogram_quantile()` then works across processes.
 */
export function dbHistogram(
  registry: Registry,
  options: { name: string; help: string; buckets: number[] },
  read: (buckets: readonly number[]) => Promise<DbHistogramReading>,
): Histogram {
  const { name, help, buckets } = options;
  return new (class extends Histogram {
    // The registry's text output asks this (not get); both answer the database's reading.
    getForPromString() {
      return this.get();
    }

    override async get() {
      const reading = await read(buckets);
      const values = [
        ...buckets.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le }, value: reading.atOrUnder[i] ?? 0 })),
        { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: reading.count },
        { metricName: `${name}_sum`, labels: {}, value: reading.sum },
        { metricName: `${name}_count`, labels: {}, value: reading.count },
      ];
      // The family as prom-client's own histogram answers it; its typings name fields only its classes fill.
      return { name, help, type: 'histogram', aggregator: 'sum', values } as unknown as Awaited<
        ReturnType<Histogram['get']>
      >;
    }
  })({ name, help, buckets, registers: [registry] });
}
