// Prometheus metrics of one archiver process: a fresh registry (never the global one, so tests
// and several processes in one runtime stay apart), default process metrics, and our gauges.
import client from 'prom-client';

export type ArchiverMetrics = {
  registry: client.Registry;
  /** 1 while the process is serving, 0 once it shuts down. */
  up: client.Gauge;
};

export function createMetrics(): ArchiverMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const up = new client.Gauge({
    name: 'parley_archiver_up',
    help: '1 while the archiver process is serving',
    registers: [registry],
  });
  return { registry, up };
}
