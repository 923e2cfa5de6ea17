// The webhook tests' stack: real redis-server, postgres, engine and dispatcher processes, a
// tenant, and real HTTP receivers on loopback that record every request (headers, raw body,
// the connections opened) and answer as each test scripts them.
import { Redis } from 'ioredis'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { adminPost, createTenant, type Json, type Tenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { ADMIN_TOKEN, startEngine, type EngineProc } from '../helpers/engine.js'
import { startTestPostgres, startTestRedis } from '../helpers/stack.js'
import { freePort, pollUntil, runArchiver, type Proc } from '../archiver/proc.js'

type T = { teardown(fn: () => unknown): void }

export type Received = { at: number; deliveryId: string; signature: string; event: string; raw: string; body: Json; answered: string }
/** What a receiver does with a request: a status to answer, 'reset' (drop the socket) or 'hang' (never answer). */
export type Answer = number | 'reset' | 'hang' | { status: number; delayMs: number }

export type Receiver = {
  url: string; port: number; received: Received[]; connections: () => number
  /** requests answered 2xx, in the order they were answered */
  accepted: () => Received[]
  answer: (fn: (r: Received, n: number) => Answer) => void
  close: () => Promise<void>
}

export async function startReceiver(t: T, host = '127.0.0.1', path = '/hook'): Promise<Receiver> {
  const received: Received[] = []
  let connections = 0
  let decide: (r: Received, n: number) => Answer = () => 200
  const sockets = new Set<Socket>()
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      let body: Json = {}
      try {
        body = JSON.parse(raw) as Json
      } catch {
        // recorded as is
      }
      const r: Received = {
        at: Date.now(), deliveryId: String(req.headers['x-parley-delivery'] ?? ''), signature: String(req.headers['x-parley-signature'] ?? ''),
        event: String(req.headers['x-parley-event'] ?? ''), raw, body, answered: '',
      }
      received.push(r)
      const a = decide(r, received.length)
      if (typeof a === 'object') {
        setTimeout(() => {
          r.answered = String(a.status)
          res.writeHead(a.status, { 'content-type': 'text/plain' }).end('ok')
        }, a.delayMs)
        return
      }
      r.answered = String(a)
      if (a === 'reset') req.socket.destroy()
      else if (a !== 'hang') res.writeHead(a, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  server.on('connection', (s: Socket) => {
    connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const port = (server.address() as { port: number }).port
  const close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  })
  t.teardown(close)
  const h = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${h}:${port}${path}`, port, received, connections: () => connections,
    accepted: () => received.filter((r) => /^2\d\d$/.test(r.answered)),
    answer: (fn) => { decide = fn },
    close,
  }
}

export type Dispatcher = { port: number; proc: () => Proc; kill9: () => Promise<void>; stop: () => Promise<void>; start: () => Promise<void>; metrics: () => Promise<string> }

/** `readyMs`: how long its /readyz may take (migrations included) before this rejects */
export async function startDispatcher(t: T, redisUrl: string, databaseUrl: string, env: Record<string, string> = {}, readyMs = 20_000): Promise<Dispatcher> {
  const port = await freePort()
  const full = {
    REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, WEBHOOKS_PORT: String(port), LOG_LEVEL: 'warn', WEBHOOKS_BATCH_MS: '50',
    WEBHOOK_POLL_MS: '50', WEBHOOKS_ALLOW_PRIVATE: '1', ...env,
  }
  let proc: Proc | undefined
  const start = async () => {
    proc = runArchiver('webhooks/main', full)
    await pollUntil(`http://127.0.0.1:${port}/readyz`, (r) => r.status === 200, readyMs)
  }
  const stop = async () => {
    if (proc === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return
    proc.child.kill('SIGTERM')
    await proc.exited
  }
  t.teardown(stop)
  await start()
  return {
    port, proc: () => proc as Proc, stop, start,
    kill9: async () => {
      proc?.child.kill('SIGKILL')
      await proc?.exited
    },
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
  }
}

export type Stack = {
  engine: EngineProc; tenant: Tenant; dispatcher: Dispatcher; databaseUrl: string; redisUrl: string
  accountId: string; inboxId: string
  createWebhook: (body: Json) => Promise<Json>
  api: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Json }>
  agent: () => Promise<Client>
  visitor: () => Promise<{ client: Client; conversationId: string }>
}

export async function webhookStack(
  t: T, opts: { engineEnv?: Record<string, string>; dispatcherEnv?: Record<string, string>; inbox?: Json } = {},
): Promise<Stack> {
  const redis = await startTestRedis(t)
  const pg = await startTestPostgres(t)
  const engine = await startEngine(t, {
    redisUrl: redis.url, env: { DATABASE_URL: pg.url, CONN_RATE_POINTS: '10000', OPS_PER_SECOND: '1000', WEBHOOKS_ALLOW_PRIVATE: '1', ...opts.engineEnv },
  })
  const dispatcher = await startDispatcher(t, redis.url, pg.url, opts.dispatcherEnv)
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false, ...opts.inbox } })
  const accountId = tenant.account['id'] as string
  const inboxId = tenant.inbox['id'] as string
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${engine.http}${path}`, {
      method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Json }
  }
  return {
    engine, tenant, dispatcher, databaseUrl: pg.url, redisUrl: redis.url, accountId, inboxId, api,
    createWebhook: async (body) => {
      const r = await adminPost(engine.http, `/api/v1/accounts/${accountId}/webhooks`, body)
      if (r.status !== 200) throw new Error(`create webhook → ${r.status} ${JSON.stringify(r.body)}`)
      return r.body['webhook'] as Json
    },
    agent: async () => {
      const c = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
      clients.push(c)
      return c
    },
    visitor: async () => {
      const c = await connect(`${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`)
      clients.push(c)
      const r = await c.request('conversation.open')
      if (r['ok'] !== true) throw new Error(`conversation.open failed: ${JSON.stringify(r)}`)
      return { client: c, conversationId: r['data']['conversation']['id'] as string }
    },
  }
}

/** Polls `check` until it returns something other than undefined. */
export async function until<V>(check: () => V | undefined | Promise<V | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<V> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Sends `n` messages into a conversation, one after the other; returns their ids in order. */
export async function sendMessages(c: Client, conversationId: string, n: number, prefix = 'm'): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await c.request('message.send', { conversationId, content: `${prefix}-${i}`, echoId: `${prefix}-${i}` })
    if (r['ok'] !== true) throw new Error(`message.send failed: ${JSON.stringify(r)}`)
    ids.push(r['data']['message']['id'] as string)
  }
  return ids
}

/** The dispatcher's typing subscriber connection as CLIENT LIST shows it (`sub=` channel count), or null. */
export async function typingSubscriber(redisUrl: string): Promise<{ channels: number } | null> {
  const redis = new Redis(redisUrl)
  try {
    const list = String(await redis.call('CLIENT', 'LIST'))
    const line = list.split('\n').find((l) => / name=parley-webhooks-typing /.test(l))
    return line === undefined ? null : { channels: Number(/ sub=(\d+) /.exec(line)?.[1] ?? -1) }
  } finally {
    redis.disconnect()
  }
}
