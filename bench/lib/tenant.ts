// Admin API calls the bench needs: accounts, inboxes with the flood limit out of the way, agents.
// One account by default; `partitions` > 1 makes accounts until that many distinct partitions are
// covered (bench/lib/partitions.ts) and deals the inboxes over them in turn, so the load spreads
// over the partitions (and a cluster's masters) instead of sitting in one.
import { partitionPicker } from './partitions.js'
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

async function createAccounts(http: string, partitions: number): Promise<string[]> {
  const newAccount = async () => ((await post(http, '/api/v1/accounts', { name: 'Bench' }))['account'] as Json)['id'] as string
  if (partitions <= 1) return [await newAccount()]
  const picker = partitionPicker(partitions)
  while (!picker.done()) picker.offer(await newAccount())
  return picker.accounts().map((a) => a.accountId)
}

/**
 * Accounts (one, or one per partition for `partitions` distinct ones, at most one per group);
 * `groups` inboxes (no auto-assignment, 1,000,000 messages/min) dealt over them in turn, with
 * `agentsPerGroup` agents each. `accountId`: the first account.
 */
export async function createGroups(http: string, groups: number, agentsPerGroup: number, partitions = 1): Promise<{ accountId: string; accounts: string[]; groups: Group[] }> {
  const accounts = await createAccounts(http, Math.min(partitions, groups))
  const out: Group[] = []
  for (let g = 0; g < groups; g++) {
    const accountId = accounts[g % accounts.length]!
    const inbox = (await post(http, `/api/v1/accounts/${accountId}/inboxes`, { name: `Site ${g}`, messagesPerMinute: 1_000_000, autoAssign: false }))['inbox'] as Json
    const agentTokens: string[] = []
    for (let a = 0; a < agentsPerGroup; a++) {
      const r = await post(http, `/api/v1/accounts/${accountId}/agents`, { name: `Agent ${g}.${a}`, inboxIds: [inbox['id']] })
      agentTokens.push(r['token'] as string)
    }
    out.push({ inboxId: inbox['id'] as string, websiteToken: inbox['websiteToken'] as string, agentTokens })
  }
  return { accountId: accounts[0]!, accounts, groups: out }
}
