// Prometheus metrics of one archiver process: a fresh registry (never the global one, so tests
// and several processes in one runtime stay apart), default process metrics, and our own.
// Lag and Redis memory are read from Redis when scraped (probes set by the composition root).
import client from 'prom-client';

export type PartitionLag = Map<number, { lagMs: number; pending: number }>;

export type Probes = {
  /** per partition: age of the oldest unacknowledged entry, entries pending in the group */
  lag?: () => Promise<PartitionLag>;
  /** INFO memory: used_memory and maxmemory (0 = no limit) */
  redisMemory?: () => Promise<{ used: number; max: number }>;
};

export type ArchiverMetrics = {
  registry: client.Registry;
  /** 1 while the process is serving, 0 once it shuts down. */
  up: client.Gauge;
  rows: client.Counter<'table'>;
  events: client.Counter;
  batchSize: client.Histogram;
  batchSeconds: client.Histogram;
  retries: client.Counter<'stage'>;
  lost: client.Counter;
  regressions: client.Counter<'partition'>;
  deadLetters: client.Counter;
  claimed: client.Counter;
  trimmed: client.Counter;
  setProbes(probes: Probes): void;
};

const PROBE_TIMEOUT_MS = 1000;
const PROBE_CACHE_MS = 250;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('probe timed out')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One probe call shared by the gauges of one scrape. */
function cached<T>(fn: () => Promise<T>): () => Promise<T> {
  let at = 0;
  let last: Promise<T> | undefined;
  return () => {
    const now = Date.now();
    if (last === undefined || now - at > PROBE_CACHE_MS) {
      at = now;
      last = within(fn(), PROBE_TIMEOUT_MS);
    }
    return last;
  };
}

export function createMetrics(): ArchiverMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let lagProbe: (() => Promise<PartitionLag>) | undefined;
  let memoryProbe: (() => Promise<{ used: number; max: number }>) | undefined;

  const up = new client.Gauge({ name: 'parley_archiver_up', help: '1 while the archiver process is serving', registers });
  const rows = new client.Counter({
    name: 'parley_archiver_rows_total',
    help: 'rows inserted or updated in PostgreSQL, by table (replayed rows count 0)',
    labelNames: ['table'] as const,
    registers,
  });
  const events = new client.Counter({ name: 'parley_archiver_events_total', help: 'stream entries committed to PostgreSQL', registers });
  const batchSize = new client.Histogram({
    name: 'parley_archiver_batch_size',
    help: 'stream entries per committed batch',
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    registers,
  });
  const batchSeconds = new client.Histogram({
    name: 'parley_archiver_batch_seconds',
    help: 'time to write and commit one batch',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const retries = new client.Counter({
    name: 'parley_archiver_retries_total',
    help: 'retried operations: write (a batch PostgreSQL did not take), ack, read',
    labelNames: ['stage'] as const,
    registers,
  });
  const lost = new client.Counter({
    name: 'parley_archiver_lost_entries_total',
    help: 'ALARM: stream entries deleted (trimmed) while still pending, so never archived',
    registers,
  });
  const regressions = new client.Counter({
    name: 'parley_archiver_stream_regressions_total',
    help: 'ALARM: a partition stream went back behind what PostgreSQL committed (Redis lost acknowledged writes: failover to a lagging replica, a lost AOF tail)',
    labelNames: ['partition'] as const,
    registers,
  });
  const deadLetters = new client.Counter({
    name: 'parley_archiver_dead_letters_total',
    help: 'entries written to archiver_dead_letters instead of their tables (malformed or refused)',
    registers,
  });
  const claimed = new client.Counter({
    name: 'parley_archiver_claimed_entries_total',
    help: 'pending entries taken over from a stalled consumer (XAUTOCLAIM)',
    registers,
  });
  const trimmed = new client.Counter({
    name: 'parley_archiver_trimmed_entries_total',
    help: 'archived entries removed from the partition streams (XTRIM MINID)',
    registers,
  });

  const lagNow = cached(async () => (lagProbe === undefined ? new Map() : lagProbe()));
  const fill = async (gauge: client.Gauge<'partition'>, pick: (v: { lagMs: number; pending: number }) => number) => {
    if (lagProbe === undefined) return;
    try {
      const lag = await lagNow();
      gauge.reset();
      for (const [p, v] of lag) gauge.set({ partition: String(p) }, pick(v));
    } catch {
      // Redis does not answer: keep the last values (the lag alarm keys on age, not on absence)
    }
  };
  new client.Gauge({
    name: 'parley_archiver_lag_ms',
    help: 'age of the oldest stream entry not yet acknowledged by the archiver group, per partition',
    labelNames: ['partition'] as const,
    registers,
    async collect() {
      await fill(this, (v) => v.lagMs);
    },
  });
  new client.Gauge({
    name: 'parley_archiver_pending_entries',
    help: 'entries delivered to an archiver and not yet acknowledged, per partition',
    labelNames: ['partition'] as const,
    registers,
    async collect() {
      await fill(this, (v) => v.pending);
    },
  });
  const memoryNow = cached(async () => (memoryProbe === undefined ? { used: 0, max: 0 } : memoryProbe()));
  new client.Gauge({
    name: 'parley_archiver_redis_used_memory_bytes',
    help: 'Redis INFO memory used_memory',
    registers,
    async collect() {
      if (memoryProbe === undefined) return;
      try {
        this.set((await memoryNow()).used);
      } catch {
        // keep the last value
      }
    },
  });
  new client.Gauge({
    name: 'parley_archiver_redis_maxmemory_bytes',
    help: 'Redis maxmemory (0 = no limit)',
    registers,
    async collect() {
      if (memoryProbe === undefined) return;
      try {
        this.set((await memoryNow()).max);
      } catch {
        // keep the last value
      }
    },
  });

  return {
    registry, up, rows, events, batchSize, batchSeconds, retries, lost, regressions, deadLetters, claimed, trimmed,
    setProbes(probes) {
      lagProbe = probes.lag;
      memoryProbe = probes.redisMemory;
    },
  };
}
