// Spawns real engine processes (compiled dist/engine/main.js) for tests, on free ports.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../engine/embedded/ports.js'

type T = { teardown: (fn: () => unknown) => void }

export const ADMIN_TOKEN = 'test-admin-token-0123456789'
const MAIN = fileURLToPath(new URL('../../engine/main.js', import.meta.url))

export type EngineProc = {
  port: number
  http: string
  ws: string
  proc: ChildProcess
  output: () => string
  /** SIGTERM and wait for exit; resolves with the exit code */
  stop: () => Promise<number | null>
  kill: () => Promise<void>
}

export function exited(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode)
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
}

/** Runs the engine main with the given env and returns once it exits (for startup failures). */
export async function runEngineToExit(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  const code = await exited(proc)
  clearTimeout(timer)
  return { code, output }
}

/** `port`: listen there (a restart on the same address, as clients reconnect to it); default a free one */
export async function startEngine(t: T, opts: { redisUrl: string; env?: Record<string, string>; port?: number }): Promise<EngineProc> {
  const port = opts.port ?? await freePort()
  const proc = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env, REDIS_URL: opts.redisUrl, ADMIN_TOKEN, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const http = `http://127.0.0.1:${port}`
  const stop = async () => {
    // surface the engine's warnings and errors in the test log: a flaky failure is then diagnosable
    const noisy = process.env["DUMP_ENGINE"] ? output.split("\n") : output.split('\n').filter((l) => /"level":(40|50|60)/.test(l) || /Error|error:/.test(l))
    if (noisy.length > 0) process.stderr.write(`engine :${port} said:\n${noisy.slice(0, 400).join('\n')}\n`)
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    const code = await exited(proc)
    clearTimeout(timer)
    return code
  }
  const kill = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGKILL')
    await exited(proc)
  }
  t.teardown(stop)
  const deadline = Date.now() + 20_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`engine exited with ${proc.exitCode}: ${output}`)
    try {
      const res = await fetch(`${http}/readyz`)
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`engine did not become ready: ${output}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return { port, http, ws: `ws://127.0.0.1:${port}`, proc, output: () => output, stop, kill }
}

/** `parley_acked_lost_total` summed over the engines' partitions and the engines (engine/durability/acked.ts). */
export async function ackedLostTotal(engines: readonly { http: string }[]): Promise<number> {
  let n = 0
  for (const e of engines) {
    const text = await (await fetch(`${e.http}/metrics`)).text()
    for (const m of text.matchAll(/^parley_acked_lost_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1])
  }
  return n
}
