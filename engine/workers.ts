// WORKERS > 1: this process becomes a small primary that forks WORKERS engine processes (this same
// main, with WORKERS=1) on one PORT. uWS listens with SO_REUSEPORT on Linux, so the kernel spreads
// new connections over the workers; each worker is a whole engine node (its own Redis clients and
// sockets) and fan-out between them goes through Redis as between any two nodes. The primary holds
// no sockets and no Redis connection: it forwards SIGTERM/SIGINT and exits once every worker has
// exited. A worker that dies on its own takes the others down with it (exit 1), so the supervisor
// (systemd, Kubernetes) restarts the unit whole instead of running on with a missing worker.
import { fork, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { Logger } from './log.js'

export type WorkersOptions = {
  count: number
  host: string
  /** 0 = one free port, chosen here and shared by every worker */
  port: number
  nodeId: string
  /** the engine main to fork */
  script: string
  env: Readonly<Record<string, string | undefined>>
  log: Logger
}

/** A port the OS reports free on `host` right now (listen on :0, read it, close). */
function pickPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Message a worker sends its primary once it listens (engine/main.ts). */
export type ListeningNotice = { parley: 'listening'; port: number }

export function isListeningNotice(m: unknown): m is ListeningNotice {
  return typeof m === 'object' && m !== null && (m as Record<string, unknown>)['parley'] === 'listening'
}

/** Runs the workers; resolves with the exit code the primary should exit with. */
export async function runWorkers(opts: WorkersOptions): Promise<number> {
  const port = opts.port === 0 ? await pickPort(opts.host) : opts.port
  const workers = new Set<ChildProcess>()
  let stopping = false
  let failed = false
  let listening = 0

  const stopAll = (signal: NodeJS.Signals) => {
    for (const w of workers) w.kill(signal)
  }
  const done = new Promise<number>((resolve) => {
    for (let i = 0; i < opts.count; i++) {
      const w = fork(opts.script, [], {
        env: { ...opts.env, WORKERS: '1', PORT: String(port), NODE_ID: `${opts.nodeId}-w${i}` },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      workers.add(w)
      w.on('message', (m: unknown) => {
        if (isListeningNotice(m) && ++listening === opts.count) {
          opts.log.info({ port, workers: opts.count }, `engine primary: ${opts.count} workers listening on ${opts.host}:${port}`)
        }
      })
      w.once('exit', (code, signal) => {
        workers.delete(w)
        if (code !== 0) failed = true
        if (!stopping) {
          stopping = true
          failed = true
          opts.log.error({ worker: i, pid: w.pid, code, signal }, 'an engine worker exited: stopping the others')
          stopAll('SIGTERM')
        }
        if (workers.size === 0) resolve(failed ? 1 : 0)
      })
    }
  })
  const forward = (signal: NodeJS.Signals) => {
    stopping = true
    stopAll(signal)
  }
  process.on('SIGTERM', () => forward('SIGTERM'))
  process.on('SIGINT', () => forward('SIGINT'))
  return done
}
