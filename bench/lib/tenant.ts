// Admin API calls the bench needs: one account, inboxes with the flood limit out of the way, agents.
import { ADMIN_TOKEN } from './stack.js'

type Json = Record<string, unknown>

async function post(http: string, path: string, body: Json): Promise<Json> {
  const res = await fetch(`${http}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const out = (await res.json()) as Json
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${JSON.stringify(out)}`)
  return out
}

export type Group = { inboxId: string; websiteToken: string; agentTokens: string[] }

/** One account; `groups` inboxes (no auto-assignment, 1,000,000 messages/min) with `agentsPerGroup` agents each. */
export async function createGroups(http: string, groups: number, agentsPerGroup: number): Promise<{ accountId: string; groups: Group[] }> {
  const account = (await post(http, '/api/v1/accounts', { name: 'Bench' }))['account'] as Json
  const accountId = account['id'] as string
  const out: Group[] = []
  for (let g = 0; g < groups; g++) {
    const inbox = (await post(http, `/api/v1/accounts/${accountId}/inboxes`, { name: `Site ${g}`, messagesPerMinute: 1_000_000, autoAssign: false }))['inbox'] as Json
    const agentTokens: string[] = []
    for (let a = 0; a < agentsPerGroup; a++) {
      const r = await post(http, `/api/v1/accounts/${accountId}/agents`, { name: `Agent ${g}.${a}`, inboxIds: [inbox['id']] })
      agentTokens.push(r['token'] as string)
    }
    out.push({ inboxId: inbox['id'] as string, websiteToken: inbox['websiteToken'] as string, agentTokens })
  }
  return { accountId, groups: out }
}
