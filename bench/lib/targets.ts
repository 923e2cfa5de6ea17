// The systems a chat run drives, started fresh on their own Redis: Parley (engine nodes from
// dist/engine/main.js) or the socket.io peer (bench/peers/socketio/server.js). Both run `nodes`
// server processes on one Redis; the load generator spreads its connections over all of them.
// Parley can also run on a local Redis Cluster (bench/lib/store.ts): its engines get
// REDIS_CLUSTER_NODES; the peer runs on one instance only.
import { fileURLToPath } from 'node:url'
import { DEFAULT_PARTITIONS, keysFor } from '../../lua/keys.js'
import type { DriverName } from '../gen/drivers.js'
import { startEngine, startNodeServer, stopAll, type Proc } from './stack.js'
import { startStore, type BenchStore, type RedisMode } from './store.js'
import { createGroups, type Group } from './tenant.js'

export type Target = {
  name: DriverName
  redis: BenchStore
  servers: Proc[]
  urls: string[]
  groups: Group[]
  stop(): Promise<void>
}

const PEER_MAIN = fileURLToPath(new URL('../peers/socketio/server.js', import.meta.url))

export async function startTarget(name: DriverName, opts: {
  nodes: number; groups: number; agentsPerGroup: number; aof: boolean; cpuProfDir?: string; engineEnv?: Record<string, string>
  /** another engine main (an experiment built elsewhere); default dist/engine/main.js */
  engineMain?: string
  /** default one instance */
  redis?: RedisMode
  /** Parley: inboxes dealt over accounts in this many distinct partitions (default 1: one account) */
  partitions?: number
}): Promise<Target> {
  const mode = opts.redis ?? { kind: 'single' }
  if (name !== 'parley' && mode.kind !== 'single') throw new Error(`${name} runs on one Redis instance only`)
  const redis = await startStore(mode, { aof: opts.aof })
  const servers: Proc[] = []
  try {
    const nodeArgs = opts.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir]
    for (let i = 0; i < opts.nodes; i++) {
      servers.push(name === 'parley'
        ? await startEngine(redis.env, { name: `engine${i}`, nodeArgs, env: { NODE_ID: `bench${i}`, ...opts.engineEnv }, ...(opts.engineMain === undefined ? {} : { script: opts.engineMain }) })
        : await startNodeServer({ name: `socketio${i}`, script: PEER_MAIN, env: { REDIS_URL: redis.env['REDIS_URL'] ?? '' }, readyPath: '/readyz', nodeArgs }))
    }
    let groups: Group[]
    if (name === 'parley') {
      groups = (await createGroups(servers[0]!.http, opts.groups, opts.agentsPerGroup, opts.partitions ?? 1)).groups
    } else {
      groups = Array.from({ length: opts.groups }, (_, g) => ({
        inboxId: `in_bench${g}`, websiteToken: '', agentTokens: Array.from({ length: opts.agentsPerGroup }, (_, a) => `agent${g}.${a}`),
      }))
    }
    return {
      name, redis, servers, urls: servers.map((s) => s.ws), groups,
      stop: () => stopAll([redis, ...servers]),
    }
  } catch (err) {
    await stopAll([redis, ...servers])
    throw err
  }
}

/**
 * Parley's partition event streams are the archiver's input, trimmed by it once archived; with no
 * archiver in the bench, this does the trimming so Redis memory stays flat (cheap: XTRIM ~). One
 * call per partition: on a cluster the streams live on different masters.
 */
export function trimEvents(target: Target, partitions = DEFAULT_PARTITIONS): () => void {
  if (target.name !== 'parley') return () => {}
  const timer = setInterval(() => {
    for (let p = 0; p < partitions; p++) target.redis.client.xtrim(keysFor(p).events, 'MAXLEN', '~', 10_000).catch(() => {})
  }, 1000)
  return () => clearInterval(timer)
}
