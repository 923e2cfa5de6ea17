// A real headless Chromium for tests, driven over the DevTools protocol (CDP) with `ws`: open a
// page, evaluate code in it (awaiting promises), reload it. No browser automation library: the
// handful of CDP calls below is all the SDK tests need. `findChromium()` is null where none is installed.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'

type T = { teardown(fn: () => unknown): void }

export function findChromium(): string | null {
  const env = process.env['CHROMIUM']
  if (env !== undefined && existsSync(env)) return env
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
      if (dir !== '' && existsSync(join(dir, name))) return join(dir, name)
    }
  }
  return null
}

export type Page = {
  /** evaluates an expression in the page; a promise is awaited; the value comes back as JSON */
  evaluate: <R = unknown>(expression: string) => Promise<R>
  reload: () => Promise<void>
}

export async function startBrowser(t: T, binary: string) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-chromium-'))
  const proc = spawn(binary, [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage',
    '--remote-debugging-port=0', `--user-data-dir=${dir}`, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  // Chromium's helpers (zygote, renderers, GPU) are children that outlive a SIGKILL of the main
  // process and keep writing into the profile: kill the whole process group, then remove the
  // profile with retries (a late write makes rmdir ENOTEMPTY). A profile left in /tmp fails no test.
  t.teardown(async () => {
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', r))
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL')
    } catch { /* the group is gone already */ }
    await exited
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 })
      .catch((err: Error) => console.error(`# chromium profile ${dir} left behind: ${err.message}`))
  })
  const wsUrl = await new Promise<string>((resolve, reject) => {
    let err = ''
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err}`)), 20_000)
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1] as string)
      }
    })
    proc.once('exit', (code) => reject(new Error(`chromium exited with ${code}: ${err}`)))
  })
  const cdp = new WebSocket(wsUrl, { perMessageDeflate: false })
  await new Promise((resolve, reject) => {
    cdp.once('open', resolve)
    cdp.once('error', reject)
  })
  t.teardown(() => cdp.close())
  let nextId = 1
  const calls = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>() // eslint-disable-line @typescript-eslint/no-explicit-any
  const waiters: { method: string; sessionId: string; resolve: () => void }[] = []
  cdp.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string }; method?: string; sessionId?: string }
    if (msg.id !== undefined) {
      const c = calls.get(msg.id)
      calls.delete(msg.id)
      if (msg.error !== undefined) c?.reject(new Error(msg.error.message))
      else c?.resolve(msg.result)
      return
    }
    for (const w of [...waiters]) {
      if (w.method === msg.method && w.sessionId === msg.sessionId) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  })
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> => // eslint-disable-line @typescript-eslint/no-explicit-any
    new Promise((resolve, reject) => {
      const id = nextId++
      calls.set(id, { resolve, reject })
      cdp.send(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }))
    })
  const loaded = (sessionId: string) => new Promise<void>((resolve) => waiters.push({ method: 'Page.loadEventFired', sessionId, resolve }))

  async function open(url: string): Promise<Page> {
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' })
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true })
    await send('Page.enable', {}, sessionId)
    const done = loaded(sessionId)
    await send('Page.navigate', { url }, sessionId)
    await done
    const evaluate = async <R>(expression: string): Promise<R> => {
      const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId)
      if (r.exceptionDetails !== undefined) throw new Error(`in the page: ${JSON.stringify(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text)}`)
      return r.result.value as R
    }
    const reload = async () => {
      const d = loaded(sessionId)
      await send('Page.reload', { ignoreCache: true }, sessionId)
      await d
    }
    return { evaluate, reload }
  }
  return { open }
}
