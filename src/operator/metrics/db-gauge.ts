import { Gauge, type Registry } from 'prom-client';

/** A gauge family whose values are read afresh (from the database) at each scrape. */
export function dbGauges(registry: Registry, prefix: string) {
  return (name: string, help: string, labelNames: string[], collect: (g: Gauge) => Promise<void>) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        await collect(this);
      },
    });
}
