// Admin API calls for tests: create an account with an inbox and agents in a few lines.
import { ADMIN_TOKEN } from './engine.js'

export type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

export async function adminPost(http: string, path: string, body: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${http}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Json }
}

async function ok(http: string, path: string, body: unknown): Promise<Json> {
  const r = await adminPost(http, path, body)
  if (r.status !== 200) throw new Error(`${path} → ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

export type Tenant = { account: Json; inbox: Json; agents: { agent: Json; token: string }[] }

/** An account, one inbox (options as given) and `agents` agents who are members of it. */
export async function createTenant(http: string, opts: { inbox?: Json; agents?: number; agent?: Json } = {}): Promise<Tenant> {
  const { account } = await ok(http, '/api/v1/accounts', { name: 'Acme' })
  const { inbox } = await ok(http, `/api/v1/accounts/${account.id}/inboxes`, { name: 'Website', ...opts.inbox })
  const agents: { agent: Json; token: string }[] = []
  for (let i = 0; i < (opts.agents ?? 1); i++) {
    const r = await ok(http, `/api/v1/accounts/${account.id}/agents`, { name: `Agent ${i + 1}`, inboxIds: [inbox.id], ...opts.agent })
    agents.push({ agent: r['agent'], token: r['token'] })
  }
  return { account, inbox, agents }
}
