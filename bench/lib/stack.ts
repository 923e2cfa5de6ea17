// What a scenario runs against: its own redis-server (free port, temp dir) and engine processes
// (compiled dist/engine/main.js), each stopped by its pid. Children are spawned through
// engine/embedded/child.ts, whose reaper stops them even if the bench itself is killed.
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { describeExit, sleep, spawnManaged, type ManagedChild } from '../../engine/embedded/child.js'
import { freePort } from '../../engine/embedded/ports.js'
import { startRedis } from '../../engine/embedded/redis.js'

export const ADMIN_TOKEN = 'bench-admin-token-0123456789'
export const ENGINE_MAIN = fileURLToPath(new URL('../../engine/main.js', import.meta.url))

export type BenchRedis = { url: string; port: number; pid: number; client: Redis; stop(): Promise<void> }

const tempDirs = new Set<string>()
let hooked = false

/**
 * Ctrl-C or SIGTERM exits through process.exit, so the exit hooks run: child.ts signals every
 * server it spawned, forked generators see their IPC channel close, and temp dirs are removed.
 */
export function exitCleanlyOnSignals(): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130))
}

/** A temp dir removed at exit (see exitCleanlyOnSignals) unless `removeTempDir` removed it before. */
export async function benchTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

/** A throwaway redis-server. Persistence is off unless `aof` (the same for Parley, peer and ceilings). */
export async function startBenchRedis(opts: { aof?: boolean } = {}): Promise<BenchRedis> {
  const dir = await benchTempDir('parley-bench-redis-')
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    try {
      const server = await startRedis({ dir: join(dir, `p${port}`), port, settings: { appendonly: opts.aof === true ? 'yes' : 'no' } })
      const client = new Redis(server.url, { maxRetriesPerRequest: 1 })
      return {
        url: server.url, port, pid: server.pid, client,
        stop: async () => {
          client.disconnect()
          await server.stop()
          await removeTempDir(dir)
        },
      }
    } catch (err) {
      if (attempt >= 3 || !/in use|another/i.test((err as Error).message)) {
        await removeTempDir(dir)
        throw err
      }
    }
  }
}

export type Proc = { name: string; pid: number; port: number; http: string; ws: string; child: ManagedChild; stop(): Promise<void> }

/** Spawns a node server script on a free port and waits until `readyPath` answers 200. */
export async function startNodeServer(opts: {
  name: string; script: string; env: Record<string, string>; readyPath: string; nodeArgs?: string[]; port?: number
}): Promise<Proc> {
  const port = opts.port ?? (await freePort())
  const child = spawnManaged({
    name: opts.name,
    command: process.execPath,
    args: [...(opts.nodeArgs ?? []), opts.script],
    env: { ...process.env, ...opts.env, PORT: String(port), HOST: '127.0.0.1' },
    cwd: process.cwd(),
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 15_000,
    output: 'capture',
  })
  const http = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.hasExited()) throw new Error(`${opts.name} ${describeExit(await child.exited)}:\n${child.tail()}`)
    try {
      const res = await fetch(`${http}${opts.readyPath}`)
      await res.arrayBuffer()
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await child.stop()
      throw new Error(`${opts.name} did not become ready:\n${child.tail()}`)
    }
    await sleep(50)
  }
  return { name: opts.name, pid: child.pid, port, http, ws: `ws://127.0.0.1:${port}`, child, stop: async () => { await child.stop() } }
}

/**
 * Engine settings for load: connection/op/flood limits out of the way, warn-level logs. `redis`: a
 * URL, or the env naming a cluster (REDIS_CLUSTER_NODES …, bench/lib/store.ts).
 */
export function engineEnv(redis: string | Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(typeof redis === 'string' ? { REDIS_URL: redis } : redis), ADMIN_TOKEN, LOG_LEVEL: 'warn',
    CONN_RATE_POINTS: '1000000', CONN_RATE_WINDOW_SEC: '1', OPS_PER_SECOND: '1000000', MESSAGES_PER_MINUTE: '1000000',
    ...extra,
  }
}

export function startEngine(redis: string | Record<string, string>, opts: { name?: string; env?: Record<string, string>; nodeArgs?: string[]; port?: number; script?: string } = {}): Promise<Proc> {
  return startNodeServer({
    name: opts.name ?? 'engine', script: opts.script ?? ENGINE_MAIN, env: engineEnv(redis, opts.env), readyPath: '/readyz',
    ...(opts.nodeArgs === undefined ? {} : { nodeArgs: opts.nodeArgs }),
    ...(opts.port === undefined ? {} : { port: opts.port }),
  })
}

/** Stops everything given, in reverse order, and never throws (a bench must not leave servers behind). */
export async function stopAll(stoppers: readonly { stop(): Promise<void> }[]): Promise<void> {
  for (const s of [...stoppers].reverse()) {
    try {
      await s.stop()
    } catch (err) {
      process.stderr.write(`bench: stop failed: ${(err as Error).message}\n`)
    }
  }
}
