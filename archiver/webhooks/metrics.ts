// Prometheus metrics of the webhook dispatcher (its own registry): deliveries by result, attempt
// latency, and per endpoint (webhook id) the queue depth, the age of the oldest owed delivery and
// the dead letters, read from PostgreSQL when scraped.
import client from 'prom-client';
import type { EndpointStats } from './queue.js';

export type DispatcherMetrics = {
  registry: client.Registry;
  up: client.Gauge;
  /** attempts by result: delivered, failed (will retry), dead (gave up), refused (SSRF rules), gone (410, webhook deactivated) */
  deliveries: client.Counter<'result'>;
  latency: client.Histogram<'result'>;
  /** stream entries taken in, and deliveries queued from them */
  entries: client.Counter;
  queued: client.Counter;
  retries: client.Counter<'stage'>;
  inFlight: client.Gauge;
  setStatsProbe(probe: () => Promise<EndpointStats[]>): void;
};

export function createDispatcherMetrics(): DispatcherMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let probe: (() => Promise<EndpointStats[]>) | undefined;
  let last: { at: number; stats: Promise<EndpointStats[]> } | undefined;
  const stats = (): Promise<EndpointStats[]> => {
    if (probe === undefined) return Promise.resolve([]);
    if (last === undefined || Date.now() - last.at > 250) last = { at: Date.now(), stats: probe() };
    return last.stats;
  };
  const perEndpoint = (name: string, help: string, pick: (s: EndpointStats) => number) =>
    new client.Gauge({
      name, help, labelNames: ['webhook'] as const, registers,
      async collect() {
        try {
          const all = await stats();
          this.reset();
          for (const s of all) this.set({ webhook: s.webhookId }, pick(s));
        } catch {
          // PostgreSQL does not answer: keep the last values
        }
      },
    });
  perEndpoint('parley_webhooks_queue_depth', 'deliveries owed (pending or failed, not yet delivered), per webhook', (s) => s.owed);
  perEndpoint('parley_webhooks_oldest_owed_seconds', 'age of the oldest owed delivery, per webhook', (s) => s.oldestOwedMs / 1000);
  perEndpoint('parley_webhooks_dead_letters', 'dead-lettered deliveries kept (replayable), per webhook', (s) => s.dead);
  return {
    registry,
    up: new client.Gauge({ name: 'parley_webhooks_up', help: '1 while the dispatcher is serving', registers }),
    deliveries: new client.Counter({ name: 'parley_webhooks_deliveries_total', help: 'delivery attempts by result', labelNames: ['result'] as const, registers }),
    latency: new client.Histogram({
      name: 'parley_webhooks_delivery_seconds', help: 'time of one delivery attempt (connect to response), by result',
      labelNames: ['result'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    }),
    entries: new client.Counter({ name: 'parley_webhooks_stream_entries_total', help: 'partition-stream entries taken in by the dispatcher', registers }),
    queued: new client.Counter({ name: 'parley_webhooks_queued_total', help: 'deliveries queued in PostgreSQL', registers }),
    retries: new client.Counter({ name: 'parley_webhooks_retries_total', help: 'retried internal operations (queue write, ack, read, claim)', labelNames: ['stage'] as const, registers }),
    inFlight: new client.Gauge({ name: 'parley_webhooks_in_flight', help: 'delivery requests in flight', registers }),
    setStatsProbe(p) {
      probe = p;
    },
  };
}
