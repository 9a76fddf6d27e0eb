import { Counter, Gauge, type LabelValues, type Registry } from 'prom-client';

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
