// Conversations per agent from the rollups (migration 00008): the archiver counts a conversation
// under its current assignee and moves the count when the assignee changes. 30 conversations over
// seven weeks (three UTC months), assigned, then some re-assigned, then some unassigned, each phase
// archived by the real consumer in batches of 3 (creation and assignment sometimes in one batch,
// sometimes not): after each phase the agent rows of every grain are the conversations grouped by
// assignee; the agents table and an agent's timeseries equal the rows and a hand count; a replay (all
// entries, or only the older ones) moves nothing; rebuild_report_rollups makes the same rows; and a
// planted daily row shows in the agents table (it reads the rollups).
import t from 'tap'
import { updateConversationCall } from '../../lua/scripts.js'
import { newUid } from '../../engine/ids.js'
import type { Filters, GroupBy } from '../../engine/reports/params.js'
import type { RollupOptions } from '../../engine/reports/rollups.js'
import { reportTable } from '../../engine/reports/tables.js'
import { reportTimeseries } from '../../engine/reports/timeseries.js'
import { writeBatch } from '../../archiver/sink.js'
import { archiveFixture } from '../archiver/fixture.js'

const Z = (iso: string) => Date.parse(iso)
const H = 3_600_000

const f = await archiveFixture(t)
const ada = f.agent
const { agent: bo } = await f.directory.createAgent(f.account.id, { name: 'Bo', role: 'agent', inboxIds: [f.inbox.id], maxConversations: null })
const { agent: cy } = await f.directory.createAgent(f.account.id, { name: 'Cy', role: 'agent', inboxIds: [f.inbox.id], maxConversations: null })
const agents = [ada.id, bo.id, cy.id]
const nameOf = (id: string) => (id === ada.id ? 'Ada' : id === bo.id ? 'Bo' : 'Cy')

// what the archive should hold: each conversation's creation and current assignee
const created = new Map<string, number>()
const assignee = new Map<string, string | null>()
let touches = 0
/** Sets the assignee in Redis and emits a whole view (conversation.updated, a changed attribute) that carries it. */
async function assign(id: string, agentId: string | null, now: number): Promise<void> {
  await f.assign(id, agentId)
  const reply = await f.scripts.run(updateConversationCall(f.k, {
    conversationId: id, accountId: f.account.id, inboxes: null, now, uid: newUid(), customAttributes: { touch: ++touches },
  }))
  if (reply[0] !== 1) throw new Error(`updateConversation replied ${JSON.stringify(reply)}`)
  assignee.set(id, agentId)
}

const sec = (ms: number) => Math.floor(ms / 1000) * 1000 + 17_000 // never on a whole hour
const base = Z('2026-09-20T03:00:00Z')
const ids: string[] = []
for (let i = 0; i < 30; i++) {
  const at = sec(base + i * 40 * H + (i % 7) * 13 * 60_000)
  const conv = await f.open(at)
  ids.push(conv.id)
  created.set(conv.id, conv.createdAt)
  await assign(conv.id, i % 4 === 3 ? null : (agents[i % 3] as string), at + 1000)
}
const { consumer } = f.consumer(t, { batchSize: 3 })
await f.drained(consumer)
const phase1 = await f.entries()

const agentRows = (table: string) => f.sql<{ key: string; bucket: Date; n: number }[]>`
  select key, bucket, n::int as n from ${f.sql(table)}
   where account_id = ${f.account.id} and metric = 'conversations' and dim = 'agent' order by 1, 2`
type Asserts = Pick<typeof t, 'ok' | 'same' | 'equal'>
const GRAINS = [['report_rollups', 'hour'], ['report_rollups_daily', 'day'], ['report_rollups_monthly', 'month']] as const

/** The agent rows of every grain are the conversations grouped by assignee and UTC hour, day, month. */
async function matchesConversations(t: Asserts, phase: string): Promise<void> {
  for (const [table, grain] of GRAINS) {
    const truth = await f.sql<{ key: string; bucket: Date; n: number }[]>`
      select assignee_id as key, date_trunc(${grain}, created_at, 'UTC') as bucket, count(*)::int as n from conversations
       where account_id = ${f.account.id} and assignee_id is not null group by 1, 2 order by 1, 2`
    const rows = await agentRows(table)
    t.ok(truth.length > 3, `${phase}: ${truth.length} (assignee, ${grain}) pairs`)
    t.same(rows, truth, `${phase}: ${table} agent rows = conversations by assignee and ${grain}, no zero row left`)
    const [all] = await f.sql<{ n: number }[]>`select sum(n)::int as n from ${f.sql(table)}
      where account_id = ${f.account.id} and metric = 'conversations' and dim = 'all'`
    t.equal(all?.n, 30, `${phase}: ${table} still counts every conversation for the account`)
  }
  const byAssignee = new Map<string, number>()
  for (const [id, a] of assignee) if (a !== null && created.has(id)) byAssignee.set(a, (byAssignee.get(a) ?? 0) + 1)
  const archived = await f.sql<{ key: string; n: number }[]>`
    select assignee_id as key, count(*)::int as n from conversations where account_id = ${f.account.id} and assignee_id is not null group by 1 order by 1`
  t.same(archived, [...byAssignee].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => ({ key, n })), `${phase}: the archive holds the assignees set`)
}

t.test('phase 1: created and assigned (in one batch or across two)', async (t) => {
  await matchesConversations(t, 'assigned')
})

t.test('phase 2: re-assigned to another agent, some to the same one', async (t) => {
  let now = Z('2026-11-20T10:00:00Z')
  for (const [i, id] of ids.entries()) {
    if (i % 3 === 0) await assign(id, agents[1 + (i % 2)] as string, (now += 60_000)) // Ada's to Bo or Cy
    else if (i % 6 === 1) await assign(id, ada.id, (now += 60_000)) // Bo's to Ada
    else if (i % 7 === 2) await assign(id, assignee.get(id) ?? null, (now += 60_000)) // a newer view, the same assignee
  }
  // twice in a row: both views are likely in one batch, the newest wins
  await assign(ids[4] as string, bo.id, (now += 60_000))
  await assign(ids[4] as string, cy.id, (now += 60_000))
  await f.drained(consumer)
  await matchesConversations(t, 're-assigned')
})

t.test('phase 3: unassigned, and one assigned again', async (t) => {
  let now = Z('2026-11-25T10:00:00Z')
  for (const [i, id] of ids.entries()) if (i % 5 === 0) await assign(id, null, (now += 60_000))
  await assign(ids[10] as string, ada.id, (now += 60_000))
  await f.drained(consumer)
  t.ok([...assignee.values()].filter((a) => a === null).length >= 5, 'several unassigned')
  await matchesConversations(t, 'unassigned')
})

const dump = (table: string) => f.sql<Record<string, unknown>[]>`
  select metric, dim, key, bucket, slot, n::int as n, total from ${f.sql(table)} where account_id = ${f.account.id} order by 1, 2, 3, 4, 5`
const dumpAll = async () => Promise.all(GRAINS.map(([table]) => dump(table)))

t.test('a replayed batch moves nothing: all entries, or only the older views', async (t) => {
  const before = await dumpAll()
  const all = await writeBatch(f.sql, f.partition, await f.entries())
  const older = await writeBatch(f.sql, f.partition, phase1)
  for (const result of [all, older]) {
    t.equal(result.rows.conversations, undefined, 'no conversation row written')
    t.same([result.rows.report_rollups, result.rows.report_rollups_daily, result.rows.report_rollups_monthly], [undefined, undefined, undefined], 'no rollup row counted')
  }
  t.same(await dumpAll(), before, 'every rollup row unchanged')
  await matchesConversations(t, 'after the replays')
})

t.test('rebuild_report_rollups makes the same rows', async (t) => {
  const before = await dumpAll()
  await f.sql`select rebuild_report_rollups(${f.account.id})`
  const after = await dumpAll()
  GRAINS.forEach(([table], i) => t.same(after[i], before[i], `${table}: every metric and dimension the same after a rebuild`))
})

const filters = (range: { since: number; until: number }, extra: Partial<Filters> = {}): Filters =>
  ({ accountId: f.account.id, inboxId: null, agentId: null, businessHours: false, ...range, ...extra })
const on: RollupOptions = { exactLimit: 0 }
// whole UTC months (monthly rows); partial days at both ends around whole days and October (all three)
const months = { since: Z('2026-09-01T00:00:00Z'), until: Z('2026-12-01T00:00:00Z') }
const partial = { since: Z('2026-09-24T05:00:00Z'), until: Z('2026-11-04T19:00:00Z') }
const ranges = [['whole months', months], ['partial days', partial]] as const

/** Conversations per agent created in [since, until), by hand. */
function handCount(range: { since: number; until: number }): Map<string, number> {
  const out = new Map(agents.map((a) => [a, 0]))
  for (const [id, a] of assignee) {
    const at = created.get(id) ?? 0
    if (a !== null && at >= range.since && at < range.until) out.set(a, (out.get(a) ?? 0) + 1)
  }
  return out
}
const conversationsOf = (table: Awaited<ReturnType<typeof reportTable>>) => new Map(table.map((r) => [r.id, r['conversations'] as number]))

t.test('agents table: conversations per current assignee from the rollups = the rows = a hand count', async (t) => {
  for (const [name, range] of ranges) {
    const q = filters(range)
    const rolled = conversationsOf(await reportTable(f.sql, 'agent', q, on))
    t.same(rolled, conversationsOf(await reportTable(f.sql, 'agent', { ...q, since: q.since + 1 })), `${name}: as the rows (one ms later: no rollups)`)
    t.same(rolled, handCount(range), `${name}: as counted by hand`)
    t.ok([...rolled.values()].every((n) => n > 0), `${name}: ${[...rolled].map(([id, n]) => `${nameOf(id)} ${n}`).join(', ')}`)
    for (const agentId of agents) {
      const one = conversationsOf(await reportTable(f.sql, 'agent', { ...q, agentId }, on))
      t.same(one, new Map([[agentId, handCount(range).get(agentId)]]), `${name}: the table of ${nameOf(agentId)} alone`)
    }
  }
})

t.test("an agent's conversations timeseries from the rollups = the rows", async (t) => {
  for (const [name, range] of ranges) {
    for (const agentId of agents) {
      for (const groupBy of ['day', 'week', 'month'] as GroupBy[]) {
        for (const timezone of ['UTC', 'Europe/Berlin']) {
          const q = { ...filters(range, { agentId }), metric: 'conversations' as const, groupBy, timezone }
          const rolled = (await reportTimeseries(f.sql, q, on)).timeseries.map((b) => b.value)
          const rows = (await reportTimeseries(f.sql, { ...q, since: q.since + 1 })).timeseries.map((b) => b.value)
          t.same(rolled, rows, `${name}, ${nameOf(agentId)} by ${groupBy} in ${timezone}`)
        }
      }
      const q = { ...filters(range, { agentId }), metric: 'conversations' as const, groupBy: 'month' as GroupBy, timezone: 'UTC' }
      const total = (await reportTimeseries(f.sql, q, on)).timeseries.reduce((a, b) => a + (b.value ?? 0), 0)
      t.equal(total, handCount(range).get(agentId), `${name}: ${nameOf(agentId)}'s months sum to the hand count`)
    }
  }
})

t.test('the agents table reads the agent rows: a planted daily row shows', async (t) => {
  const q = filters(partial)
  const [row] = await f.sql<{ key: string; bucket: Date }[]>`
    select key, bucket from report_rollups_daily
     where account_id = ${f.account.id} and metric = 'conversations' and dim = 'agent'
       and bucket >= ${new Date(Z('2026-11-01T00:00:00Z'))} and bucket < ${new Date(Z('2026-11-04T00:00:00Z'))}
     order by bucket limit 1`
  if (row === undefined) throw new Error('no agent row on 1-3 November to plant in')
  const plant = (by: number) => f.sql`update report_rollups_daily set n = n + ${by}
    where account_id = ${f.account.id} and metric = 'conversations' and dim = 'agent' and key = ${row.key} and bucket = ${row.bucket}`
  const before = conversationsOf(await reportTable(f.sql, 'agent', q, on))
  t.equal((await plant(1000)).count, 1, 'one daily row changed')
  const after = conversationsOf(await reportTable(f.sql, 'agent', q, on))
  t.equal(after.get(row.key), (before.get(row.key) ?? 0) + 1000, 'the agents table read the daily row')
  t.same(conversationsOf(await reportTable(f.sql, 'agent', q, { exactLimit: 0, daily: false })), before, 'hourly rows only: untouched')
  await plant(-1000)
})
