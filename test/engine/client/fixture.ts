// SDK tests: a real Redis, one or two real engine nodes, a tenant, and SDK clients (the Node entry
// through package.json `exports`, as an app imports it) closed at teardown.
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { createAgentClient, createWidgetClient, type AgentOptions, type WidgetOptions } from 'parley/client'
import { createTenant, type Json, type Tenant } from '../../helpers/admin.js'
import { connect } from '../../helpers/client.js'
import { startEngine, type EngineProc } from '../../helpers/engine.js'
import { startTestRedis, type TestRedis } from '../../helpers/stack.js'

type T = { teardown(fn: () => unknown): void }

export const FAST = { backoff: { baseMs: 50, maxMs: 400 }, pingIntervalMs: 1000, pingTimeoutMs: 2000 } as const

export async function sdkStack(t: T, opts: { nodes?: number; env?: Record<string, string>; inbox?: Json; agents?: number } = {}) {
  const redis: TestRedis = await startTestRedis(t)
  const env = { CONN_RATE_POINTS: '10000', ...opts.env }
  const engines: EngineProc[] = []
  for (let i = 0; i < (opts.nodes ?? 1); i++) engines.push(await startEngine(t, { redisUrl: redis.url, env }))
  const first = engines[0] as EngineProc
  const tenant: Tenant = await createTenant(first.http, { inbox: { autoAssign: false, ...opts.inbox }, agents: opts.agents ?? 1 })
  const clients: { close(): void }[] = []
  t.teardown(() => clients.forEach((c) => c.close()))
  const widget = (o: Partial<WidgetOptions> = {}) => {
    const c = createWidgetClient({ url: first.http, websiteToken: tenant.inbox['websiteToken'] as string, ...FAST, ...o })
    clients.push(c)
    return c
  }
  const agent = (o: Partial<AgentOptions> = {}) => {
    const c = createAgentClient({ url: first.http, token: tenant.agents[0]?.token ?? '', ...FAST, ...o })
    clients.push(c)
    return c
  }
  /** what the server holds: the whole history of a conversation, read by a fresh raw agent socket */
  const serverHistory = async (conversationId: string, http = first.ws): Promise<Json[]> => {
    const raw = await connect(`${http}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
    try {
      const out: Json[] = []
      let before: string | undefined
      for (;;) {
        const r = await raw.request('history', { conversationId, limit: 200, ...(before === undefined ? {} : { before }) })
        if (r['ok'] !== true) throw new Error(`history: ${JSON.stringify(r)}`)
        const page = r['data']['messages'] as Json[]
        out.unshift(...page)
        if (r['data']['more'] !== true || page.length === 0) return out
        before = page[0]?.['id'] as string
      }
    } finally {
      await raw.close()
    }
  }
  return { redis, engines, engine: first, tenant, widget, agent, serverHistory }
}

/** Resolves with the first event of `type` that passes `pred`, from now on. */
export function next<C extends { on(type: any, fn: (d: any) => void): () => void }>(client: C, type: string, pred: (d: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`timed out waiting for ${type}`))
    }, timeoutMs)
    const off = client.on(type, (d) => {
      if (!pred(d)) return
      clearTimeout(timer)
      off()
      resolve(d)
    })
  })
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** message fields that identify a message and its place */
export const ids = (ms: readonly { id?: unknown }[]): string[] => ms.map((m) => String(m.id))

type PageListener = () => void
/**
 * The browser bundle evaluated in a fresh global shaped like a page: its own Math, a WebSocket
 * (`ws`, WHATWG-style), localStorage, fetch, and window/document listeners the test can fire.
 */
export function pageWith(code: string) {
  const store = new Map<string, string>()
  const listeners = new Map<string, Set<PageListener>>()
  const target = (prefix: string) => ({
    addEventListener: (type: string, fn: PageListener) => {
      const k = prefix + type
      if (!listeners.has(k)) listeners.set(k, new Set())
      listeners.get(k)?.add(fn)
    },
    removeEventListener: (type: string, fn: PageListener) => void listeners.get(prefix + type)?.delete(fn),
  })
  const document = { visibilityState: 'visible', ...target('document:') }
  const page: Record<string, unknown> = {
    WebSocket, setTimeout, clearTimeout, setInterval, clearInterval, TextDecoder, URL, crypto: globalThis.crypto, console,
    fetch: globalThis.fetch,
    localStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) },
    document, ...target('window:'),
  }
  page['window'] = page
  runInNewContext(code, page)
  const fire = (where: 'window' | 'document', type: string) => {
    for (const fn of listeners.get(`${where}:${type}`) ?? []) fn()
  }
  const listening = (where: 'window' | 'document', type: string) => listeners.get(`${where}:${type}`)?.size ?? 0
  return {
    Parley: page['Parley'] as typeof import('../../../engine/client/browser.js'), store, document, fire, listening,
    run: (js: string) => runInNewContext(js, page) as unknown,
  }
}
