// One Redis, one engine, one tenant (account, inbox, agent) and helpers to connect as the agent or
// as a fresh website visitor, for the e2e tests of the conversation operations. The inbox does not
// auto-assign unless asked to, so assignment activity stays out of what these tests count.
import { Redis } from 'ioredis'
import { parseEvent, type StreamEvent } from '../../lua/codec.js'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { createTenant, type Json, type Tenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startEngine, type EngineProc } from '../helpers/engine.js'
import { startTestRedis, type TestRedis } from '../helpers/stack.js'

type T = { teardown(fn: () => unknown): void }

export const PARTITIONS = DEFAULT_PARTITIONS

export function urls(engine: EngineProc, tenant: Tenant) {
  return {
    agent: (token = tenant.agents[0]?.token ?? '') => `${engine.ws}/ws/agent?token=${encodeURIComponent(token)}`,
    widget: (session?: string) => `${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}` +
      (session === undefined ? '' : `&session=${encodeURIComponent(session)}`),
  }
}

/** The tenant's first agent and a new website visitor, connected; both closed at teardown. */
export async function agentAndWidget(t: T, engine: EngineProc, tenant: Tenant): Promise<{ agent: Client; widget: Client }> {
  const u = urls(engine, tenant)
  const agent = await connect(u.agent())
  t.teardown(() => agent.close())
  const widget = await connect(u.widget())
  t.teardown(() => widget.close())
  return { agent, widget }
}

export async function e2eStack(t: T, env: Record<string, string> = {}, inbox: Json = { autoAssign: false }) {
  const server: TestRedis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: server.url, env: { CONN_RATE_POINTS: '10000', ...env } })
  const tenant = await createTenant(engine.http, { inbox })
  const redis = new Redis(server.url)
  t.teardown(() => redis.quit())
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const u = urls(engine, tenant)
  const track = (c: Client) => (clients.push(c), c)

  const agent = async (token?: string) => track(await connect(u.agent(token)))
  const visitor = async () => track(await connect(u.widget()))
  /** A new visitor with an open conversation. */
  const visitorWithConversation = async () => {
    const c = await visitor()
    const r = await c.request('conversation.open')
    if (r['ok'] !== true) throw new Error(`conversation.open failed: ${JSON.stringify(r)}`)
    return { client: c, conversation: r['data']['conversation'] as Json }
  }
  const k = keysFor(partitionOf(tenant.account['id'] as string, PARTITIONS))
  const events = async (type: string): Promise<StreamEvent[]> => {
    const entries = (await redis.xrange(k.events, '-', '+')) as [string, string[]][]
    return entries.map(([id, f]) => parseEvent(id, f)).filter((e): e is StreamEvent => e !== null && e.type === type)
  }
  return { server, engine, tenant, redis, k, agent, visitor, visitorWithConversation, events, track, urls: u }
}

/** Polls `check` until it returns a value other than undefined (or the time is up). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 25))
  }
}
