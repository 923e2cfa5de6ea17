import client from 'prom-client'

export function createMetrics() {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry, prefix: 'parley_engine_' })
  const connections = new client.Gauge({
    name: 'parley_connections', help: 'Open WebSocket connections by role', labelNames: ['role'] as const, registers: [registry],
  })
  const framesIn = new client.Counter({
    name: 'parley_frames_in_total', help: 'Frames received from clients', labelNames: ['role'] as const, registers: [registry],
  })
  const framesOut = new client.Counter({
    name: 'parley_frames_out_total', help: 'Frames sent to clients', registers: [registry],
  })
  const socketBatches = new client.Counter({
    name: 'parley_socket_batches_total', help: 'Batches of frames written to a client socket at once (corked); frames out / batches = frames per batch', registers: [registry],
  })
  const errors = new client.Counter({
    name: 'parley_errors_total', help: 'Error replies and refusals by protocol error code', labelNames: ['code'] as const, registers: [registry],
  })
  const upgrades = new client.Counter({
    name: 'parley_upgrades_total', help: 'WebSocket upgrade attempts by HTTP status', labelNames: ['status'] as const, registers: [registry],
  })
  const scriptSeconds = new client.Histogram({
    name: 'parley_redis_script_seconds', help: 'Latency of Redis script calls', labelNames: ['script'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [registry],
  })
  const ackedLost = new client.Counter({
    name: 'parley_acked_lost_total',
    help: 'ALARM: messages this node acknowledged that Redis then lost and the archive never got (failover to a lagging replica without REDIS_WAIT_REPLICAS, a lost AOF tail)',
    labelNames: ['partition'] as const, registers: [registry],
  })
  return { registry, ackedLost, connections, framesIn, framesOut, socketBatches, errors, upgrades, scriptSeconds }
}

export type Metrics = ReturnType<typeof createMetrics>
