// What Redis a scenario runs on: one redis-server (startBenchRedis) or a local Redis Cluster of
// M masters with R replicas each (engine/embedded/cluster.ts startRedisCluster) on free ports in a
// temp dir, AOF off on every node like the single instance unless `aof`. Either way the scenario
// gets the engines' env (REDIS_URL or REDIS_CLUSTER_NODES, REDIS_WAIT_REPLICAS), a client through
// lua/client.ts connectRedis (ioredis Cluster on a cluster) and one plain connection per node, so
// Redis CPU and commandstats are read per master (bench/lib/nodestats.ts).
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { connectRedis, type RedisClient } from '../../lua/client.js'
import { startRedisCluster } from '../../engine/embedded/cluster.js'
import { freePort, isPortFree } from '../../engine/embedded/ports.js'
import { sampleNode, type NodeSample } from './nodestats.js'
import { benchTempDir, removeTempDir, startBenchRedis } from './stack.js'

export type RedisMode =
  | { kind: 'single' }
  | { kind: 'cluster'; masters: number; replicas: number; waitReplicas: number }

/**
 * `--redis` as a comma list run in turn: `single`, `cluster`, `cluster-wait` (a cluster whose
 * engines run with REDIS_WAIT_REPLICAS=1; at least one replica each) and `both` (single,cluster).
 */
export function parseRedisModes(raw: string, d: { masters: number; replicas: number }): RedisMode[] {
  const out: RedisMode[] = []
  for (const word of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (word === 'single') out.push({ kind: 'single' })
    else if (word === 'cluster') out.push({ kind: 'cluster', masters: d.masters, replicas: d.replicas, waitReplicas: 0 })
    else if (word === 'cluster-wait') out.push({ kind: 'cluster', masters: d.masters, replicas: Math.max(1, d.replicas), waitReplicas: 1 })
    else if (word === 'both') out.push({ kind: 'single' }, { kind: 'cluster', masters: d.masters, replicas: d.replicas, waitReplicas: 0 })
    else throw new Error(`--redis: ${JSON.stringify(word)} is not single, cluster, cluster-wait or both`)
  }
  if (out.length === 0) throw new Error('--redis: no mode given')
  if (d.masters < 1 || !Number.isInteger(d.masters)) throw new Error(`--masters must be a whole number ≥ 1, got ${d.masters}`)
  return out
}

/** `single`, `cluster 3×0`, `cluster 3×1 wait 1`: how a run names its Redis in logs and tables. */
export function modeLabel(m: RedisMode): string {
  if (m.kind === 'single') return 'single'
  return `cluster ${m.masters}×${m.replicas}${m.waitReplicas > 0 ? ` wait ${m.waitReplicas}` : ''}`
}

export type StoreNode = { port: number; pid: number; role: NodeSample['role']; conn: Redis }

export type BenchStore = {
  mode: RedisMode
  label: string
  /** REDIS_URL or REDIS_CLUSTER_NODES (+ REDIS_WAIT_REPLICAS) for engine processes; the other one empty */
  env: Record<string, string>
  /** the scenario's own client (trimming): ioredis Cluster on a cluster */
  client: RedisClient
  /** another client of its own (its own connections: one per master on a cluster), closed by the caller */
  connect(name: string): RedisClient
  nodes: StoreNode[]
  pids(): number[]
  /** every node's CPU and commandstats now, in `nodes` order */
  sample(): Promise<NodeSample[]>
  stop(): Promise<void>
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < n) {
    const p = await freePort()
    if (!ports.has(p) && (await isPortFree(p))) ports.add(p)
  }
  return [...ports]
}

export async function startStore(mode: RedisMode, opts: { aof?: boolean; name?: string } = {}): Promise<BenchStore> {
  const name = opts.name ?? 'parley-bench'
  if (mode.kind === 'single') {
    const redis = await startBenchRedis({ aof: opts.aof === true })
    const nodes: StoreNode[] = [{ port: redis.port, pid: redis.pid, role: 'master', conn: redis.client }]
    const target = { kind: 'single', url: redis.url } as const
    const client = connectRedis(target, { name, maxRetriesPerRequest: 1 })
    return {
      mode, label: modeLabel(mode), env: { REDIS_URL: redis.url, REDIS_CLUSTER_NODES: '' }, client, nodes,
      connect: (n) => connectRedis(target, { name: n }),
      pids: () => [redis.pid],
      sample: () => Promise.all(nodes.map((n) => sampleNode(n.conn, n.port, n.role))),
      stop: async () => { client.disconnect(); await redis.stop() },
    }
  }
  const dir = await benchTempDir('parley-bench-cluster-')
  const total = mode.masters * (1 + mode.replicas)
  const ports = await distinctFreePorts(total * 2)
  const cluster = await startRedisCluster({
    dir: join(dir, 'cluster'), masters: mode.masters, replicasPerMaster: mode.replicas,
    ports: Array.from({ length: total }, (_, i) => ({ port: ports[2 * i]!, busPort: ports[2 * i + 1]! })),
  }).catch(async (err: unknown) => { await removeTempDir(dir); throw err })
  const nodes: StoreNode[] = cluster.nodes.map((n, i) => ({
    port: n.port, pid: n.pid, role: i < mode.masters ? 'master' : 'replica',
    conn: new Redis(n.port, '127.0.0.1', { maxRetriesPerRequest: 1, connectionName: `${name}-stats` }),
  }))
  // the embedded cluster runs with AOF (everysec); the bench's single instance without
  if (opts.aof !== true) for (const n of nodes) await n.conn.config('SET', 'appendonly', 'no')
  const target = { kind: 'cluster', nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), password: null } as const
  const client = connectRedis(target, { name, maxRetriesPerRequest: 1 })
  return {
    mode, label: modeLabel(mode), client, nodes,
    connect: (n) => connectRedis(target, { name: n }),
    env: { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, ...(mode.waitReplicas > 0 ? { REDIS_WAIT_REPLICAS: String(mode.waitReplicas) } : {}) },
    pids: () => cluster.nodes.map((n) => n.pid),
    sample: () => Promise.all(nodes.map((n) => sampleNode(n.conn, n.port, n.role))),
    stop: async () => {
      client.disconnect()
      for (const n of nodes) n.conn.disconnect()
      await cluster.stop()
      await removeTempDir(dir)
    },
  }
}
