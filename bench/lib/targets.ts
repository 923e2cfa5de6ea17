// The systems a chat run drives, started fresh on their own Redis: Parley (engine nodes from
// dist/engine/main.js) or the socket.io peer (bench/peers/socketio/server.js). Both run `nodes`
// server processes on one Redis; the load generator spreads its connections over all of them.
import { fileURLToPath } from 'node:url'
import { keysFor } from '../../lua/keys.js'
import type { DriverName } from '../gen/drivers.js'
import { startBenchRedis, startEngine, startNodeServer, stopAll, type BenchRedis, type Proc } from './stack.js'
import { createGroups, type Group } from './tenant.js'

export type Target = {
  name: DriverName
  redis: BenchRedis
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
}): Promise<Target> {
  const redis = await startBenchRedis({ aof: opts.aof })
  const servers: Proc[] = []
  try {
    const nodeArgs = opts.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir]
    for (let i = 0; i < opts.nodes; i++) {
      servers.push(name === 'parley'
        ? await startEngine(redis.url, { name: `engine${i}`, nodeArgs, env: { NODE_ID: `bench${i}`, ...opts.engineEnv }, ...(opts.engineMain === undefined ? {} : { script: opts.engineMain }) })
        : await startNodeServer({ name: `socketio${i}`, script: PEER_MAIN, env: { REDIS_URL: redis.url }, readyPath: '/readyz', nodeArgs }))
    }
    let groups: Group[]
    if (name === 'parley') {
      groups = (await createGroups(servers[0]!.http, opts.groups, opts.agentsPerGroup)).groups
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
 * archiver in the bench, this does the trimming so Redis memory stays flat (cheap: XTRIM ~).
 */
export function trimEvents(target: Target, partitions = 16): () => void {
  if (target.name !== 'parley') return () => {}
  const timer = setInterval(() => {
    const pipe = target.redis.client.pipeline()
    for (let p = 0; p < partitions; p++) pipe.xtrim(keysFor(p).events, 'MAXLEN', '~', 10_000)
    pipe.exec().catch(() => {})
  }, 1000)
  return () => clearInterval(timer)
}
