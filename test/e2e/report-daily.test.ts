// Daily report rollups (migration 00006) beside the hourly ones: kept by the real consumer, equal to
// the hourly rows summed per UTC day, unchanged by a replayed batch; and every report reads the same
// figures with daily rows used and forced off, in UTC and in zones whose days are not UTC days, over
// aligned ranges and ranges with partial days at both ends, across the Berlin (25 Oct) and New York
// (1 Nov) fall-back changes, a month boundary and week boundaries. 48 seeded conversations over 16
// days in two inboxes (Web with business hours), two agents, first responses, waits, resolutions, CSAT.
import t from 'tap'
import { createConversationCall, json } from '../../lua/scripts.js'
import { newId, newUid } from '../../engine/ids.js'
import { setInboxBusinessHours } from '../../engine/reports/business-hours.js'
import { METRICS, type Filters, type GroupBy } from '../../engine/reports/params.js'
import { splitRange, type RollupOptions } from '../../engine/reports/rollups.js'
import { reportTable } from '../../engine/reports/tables.js'
import { reportTimeseries } from '../../engine/reports/timeseries.js'
import { writeBatch } from '../../archiver/sink.js'
import { archiveFixture, PARTITIONS } from '../archiver/fixture.js'

const Z = (iso: string) => Date.parse(iso)
const H = 3_600_000

t.test('splitRange: whole UTC months and days inside one bucket are monthly and daily, the rest hourly', async (t) => {
  const since = Z('2026-10-21T05:00:00Z')
  const until = Z('2026-10-24T19:00:00Z')
  t.same(splitRange(since, until, []), {
    hourly: [[since, Z('2026-10-22T00:00:00Z')], [Z('2026-10-24T00:00:00Z'), until]], daily: [[Z('2026-10-22T00:00:00Z'), Z('2026-10-24T00:00:00Z')]], monthly: [], shifted: [], minus: [],
  }, 'a table: the two whole days')
  t.same(splitRange(since, until, [], false), { hourly: [[since, until]], daily: [], monthly: [], shifted: [], minus: [] }, 'daily rows off')
  t.same(splitRange(since, Z('2026-10-22T19:00:00Z'), []), { hourly: [[since, Z('2026-10-22T19:00:00Z')]], daily: [], monthly: [], shifted: [], minus: [] }, 'no whole day')
  const berlinDays = [Z('2026-10-20T22:00:00Z'), Z('2026-10-21T22:00:00Z'), Z('2026-10-22T22:00:00Z'), Z('2026-10-23T22:00:00Z')]
  t.same(splitRange(since, until, berlinDays), {
    hourly: [[since, Z('2026-10-22T00:00:00Z')], [Z('2026-10-22T22:00:00Z'), Z('2026-10-23T00:00:00Z')], [Z('2026-10-23T22:00:00Z'), until]],
    daily: [[Z('2026-10-22T00:00:00Z'), Z('2026-10-24T00:00:00Z')]], monthly: [], shifted: [],
    minus: [{ iv: [Z('2026-10-22T22:00:00Z'), Z('2026-10-23T00:00:00Z')], at: Z('2026-10-22T00:00:00Z') }, { iv: [Z('2026-10-23T22:00:00Z'), Z('2026-10-24T00:00:00Z')], at: Z('2026-10-23T00:00:00Z') }],
  }, 'Berlin days cut every UTC day at 22:00: each whole one is its daily row less its last two hours, which count in the next Berlin day')
  const newYorkDays = [Z('2026-10-21T04:00:00Z'), Z('2026-10-22T04:00:00Z'), Z('2026-10-23T04:00:00Z'), Z('2026-10-24T04:00:00Z')]
  t.same(splitRange(since, until, newYorkDays), {
    hourly: [[since, Z('2026-10-22T04:00:00Z')], [Z('2026-10-23T00:00:00Z'), Z('2026-10-23T04:00:00Z')], [Z('2026-10-24T00:00:00Z'), until]],
    daily: [], monthly: [],
    shifted: [{ day: Z('2026-10-22T00:00:00Z'), at: Z('2026-10-22T04:00:00Z') }, { day: Z('2026-10-23T00:00:00Z'), at: Z('2026-10-23T04:00:00Z') }],
    minus: [{ iv: [Z('2026-10-22T00:00:00Z'), Z('2026-10-22T04:00:00Z')], at: Z('2026-10-22T04:00:00Z') }, { iv: [Z('2026-10-23T00:00:00Z'), Z('2026-10-23T04:00:00Z')], at: Z('2026-10-23T04:00:00Z') }],
  }, 'New York days: each whole UTC day counts at its local midnight (04:00 UTC), less its first four hours, which belong to the day before')
  const hours = Array.from({ length: 24 * 3 }, (_, i) => Z('2026-10-22T00:00:00Z') + i * H)
  t.same(splitRange(Z('2026-10-22T00:00:00Z'), Z('2026-10-25T00:00:00Z'), hours), {
    hourly: [[Z('2026-10-22T00:00:00Z'), Z('2026-10-25T00:00:00Z')]], daily: [], monthly: [], shifted: [], minus: [],
  }, 'by hour: every day cut into hours, read hourly')
  const sixHours = Array.from({ length: 4 * 3 }, (_, i) => Z('2026-10-22T03:00:00Z') + i * 6 * H)
  t.same(splitRange(Z('2026-10-22T00:00:00Z'), Z('2026-10-25T00:00:00Z'), sixHours), {
    hourly: [[Z('2026-10-22T00:00:00Z'), Z('2026-10-25T00:00:00Z')]], daily: [], monthly: [], shifted: [], minus: [],
  }, 'a day cut into parts under 13 h is read hourly')
  const utcDays = [Z('2026-10-21T00:00:00Z'), Z('2026-10-22T00:00:00Z'), Z('2026-10-23T00:00:00Z'), Z('2026-10-24T00:00:00Z')]
  t.same(splitRange(since, until, utcDays).daily, [[Z('2026-10-22T00:00:00Z'), Z('2026-10-24T00:00:00Z')]], 'UTC days are UTC days')
  const berlinMonths = [Z('2026-09-30T22:00:00Z'), Z('2026-10-31T23:00:00Z'), Z('2026-11-30T23:00:00Z')]
  t.same(splitRange(Z('2026-10-20T00:00:00Z'), Z('2026-12-10T00:00:00Z'), berlinMonths), {
    hourly: [[Z('2026-10-31T23:00:00Z'), Z('2026-11-01T00:00:00Z')], [Z('2026-11-30T23:00:00Z'), Z('2026-12-01T00:00:00Z')]],
    daily: [[Z('2026-10-20T00:00:00Z'), Z('2026-12-10T00:00:00Z')]], monthly: [], shifted: [],
    minus: [{ iv: [Z('2026-10-31T23:00:00Z'), Z('2026-11-01T00:00:00Z')], at: Z('2026-10-31T00:00:00Z') }, { iv: [Z('2026-11-30T23:00:00Z'), Z('2026-12-01T00:00:00Z')], at: Z('2026-11-30T00:00:00Z') }],
  }, 'Berlin months: every UTC month is cut; the UTC day holding each local midnight is its daily row less its last hour')
  // a year's table: eleven whole months, the days around them, the hours at the edges
  t.same(splitRange(Z('2025-11-29T06:00:00Z'), Z('2026-11-29T06:00:00Z'), []), {
    hourly: [[Z('2025-11-29T06:00:00Z'), Z('2025-11-30T00:00:00Z')], [Z('2026-11-29T00:00:00Z'), Z('2026-11-29T06:00:00Z')]],
    daily: [[Z('2025-11-30T00:00:00Z'), Z('2025-12-01T00:00:00Z')], [Z('2026-11-01T00:00:00Z'), Z('2026-11-29T00:00:00Z')]],
    monthly: [[Z('2025-12-01T00:00:00Z'), Z('2026-11-01T00:00:00Z')]], shifted: [], minus: [],
  }, 'a year: whole UTC months monthly')
  const utcMonths = [Z('2026-01-01T00:00:00Z'), Z('2026-02-01T00:00:00Z'), Z('2026-02-15T00:00:00Z'), Z('2026-03-01T00:00:00Z')]
  t.same(splitRange(Z('2026-01-01T00:00:00Z'), Z('2026-04-01T00:00:00Z'), utcMonths), {
    hourly: [], daily: [[Z('2026-02-01T00:00:00Z'), Z('2026-03-01T00:00:00Z')]],
    monthly: [[Z('2026-01-01T00:00:00Z'), Z('2026-02-01T00:00:00Z')], [Z('2026-03-01T00:00:00Z'), Z('2026-04-01T00:00:00Z')]], shifted: [], minus: [],
  }, 'a boundary inside February: February by days (a UTC boundary cuts no day), the other months whole')
  t.same(splitRange(Z('2026-01-01T00:00:00Z'), Z('2026-04-01T00:00:00Z'), [], true, false).monthly, [], 'monthly rows off')
  t.same(splitRange(0, 8.64e15, [], true, false).daily, [[0, 8.64e15]], 'a huge table range: one interval, no loop over days')
  const lastMonth = Date.UTC(new Date(8.64e15).getUTCFullYear(), new Date(8.64e15).getUTCMonth(), 1)
  t.same(splitRange(0, 8.64e15, []).monthly, [[0, lastMonth]], 'and one interval of months, no loop over months')
})

const f = await archiveFixture(t)
const web = f.inbox
const { inbox: mail } = await f.directory.createInbox(f.account.id, { name: 'Mail', allowedOrigins: [], messagesPerMinute: 1000, autoAssign: false })
const ada = f.agent
const { agent: bo } = await f.directory.createAgent(f.account.id, { name: 'Bo', role: 'agent', inboxIds: [web.id, mail.id], maxConversations: null })
const weekdays = { open: '09:00', close: '17:00' }
await setInboxBusinessHours({ redis: f.redis, partitions: PARTITIONS }, f.account.id, web.id, {
  timezone: 'Europe/Berlin', weekly: { mon: [weekdays], tue: [weekdays], wed: [weekdays], thu: [weekdays], fri: [weekdays] },
})

let seed = 7
const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
const sec = (ms: number) => Math.floor(ms / 1000) * 1000 + 17_000 // never on a whole hour
const base = Z('2026-10-20T00:00:00Z')
for (let i = 0; i < 48; i++) {
  const at = sec(base + i * 8 * H + rand() * 7 * H)
  const agent = i % 2 === 0 ? bo : ada
  let id: string
  if (i % 3 === 0) {
    const contact = await f.directory.createContact(f.account.id, mail.id, null)
    id = (json(await f.scripts.run(createConversationCall(f.k, {
      id: newId('cv'), accountId: f.account.id, inboxId: mail.id, contactId: contact.id, now: at, uid: newUid(), additionalAttributes: '{}',
    })), 1) as { id: string }).id
    f.contactOf.set(id, contact.id)
  } else id = (await f.open(at)).id
  await f.assign(id, i % 5 === 4 ? null : agent.id)
  await f.send(id, at + 10_000)
  const reply = sec(at + 60_000 + rand() * 5 * H)
  await f.send(id, reply, { senderType: 'agent', senderId: agent.id })
  await f.send(id, reply + 120_000)
  await f.send(id, sec(reply + 180_000 + rand() * 2 * H), { senderType: 'agent', senderId: agent.id })
  if (i % 3 !== 2) {
    const done = sec(reply + 3 * H + rand() * 20 * H)
    await f.setStatus(id, 'resolved', done)
    if (i % 3 === 1) await f.rate(id, 1 + (i % 5), null, done + 300_000)
  }
}
const { consumer } = f.consumer(t, { batchSize: 25 })
await f.drained(consumer)

const dump = () => f.sql<Record<string, unknown>[]>`
  select metric, dim, key, bucket, slot, n::int as n, total from report_rollups_daily where account_id = ${f.account.id} order by 1, 2, 3, 4, 5`

t.test('daily rows: the hourly rows summed per UTC day; a replayed batch adds nothing', async (t) => {
  const hourlyByDay = await f.sql<Record<string, unknown>[]>`
    select metric, dim, key, date_trunc('day', bucket, 'UTC') as bucket, slot, sum(n)::int as n, sum(total) as total
      from report_rollups where account_id = ${f.account.id} group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5`
  const daily = await dump()
  t.ok(daily.length > 200, `${daily.length} daily rows`)
  t.same(daily, hourlyByDay, 'every daily row equals its hours')
  const [days] = await f.sql<{ n: number }[]>`select count(distinct bucket)::int as n from report_rollups_daily where account_id = ${f.account.id}`
  t.ok((days?.n ?? 0) >= 16, `${days?.n} UTC days`)
  const result = await writeBatch(f.sql, f.partition, await f.entries())
  t.equal(result.rows.report_rollups_daily, undefined, 'no daily row counted by the replay')
  t.same(await dump(), daily, 'daily rows unchanged after the replay')
  await f.sql`select rebuild_report_rollups(${f.account.id})`
  t.same(await dump(), daily, 'rebuild_report_rollups (the bench builds its archive with it) makes the same daily rows')
})

const aligned = { since: Z('2026-10-19T00:00:00Z'), until: Z('2026-11-07T00:00:00Z') }
const partial = { since: Z('2026-10-21T05:00:00Z'), until: Z('2026-11-04T19:00:00Z') }
const filters = (range: { since: number; until: number }, extra: Partial<Filters> = {}): Filters =>
  ({ accountId: f.account.id, inboxId: null, agentId: null, businessHours: false, ...range, ...extra })
// exactLimit 0: the time metrics read the rollups too (histogram percentiles) instead of the rows
const on: RollupOptions = { exactLimit: 0 }
const off: RollupOptions = { exactLimit: 0, daily: false }

t.test('timeseries: the same figures with daily rows and without, in any zone', async (t) => {
  let compared = 0
  for (const timezone of ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo']) {
    for (const groupBy of ['day', 'week', 'month'] as GroupBy[]) {
      for (const range of [aligned, partial]) {
        for (const metric of METRICS) {
          const q = { ...filters(range), metric, groupBy, timezone }
          const a = await reportTimeseries(f.sql, q, on)
          t.same(a, await reportTimeseries(f.sql, q, off), `${metric} by ${groupBy} in ${timezone}, ${range === aligned ? 'aligned' : 'partial days'}`)
          compared++
        }
      }
    }
  }
  for (const extra of [{ inboxId: web.id }, { inboxId: mail.id }, { agentId: bo.id }, { businessHours: true }, { businessHours: true, inboxId: web.id }]) {
    for (const metric of METRICS) {
      for (const groupBy of ['week', 'month'] as GroupBy[]) {
        const q = { ...filters(partial, extra), metric, groupBy, timezone: 'UTC' }
        t.same(await reportTimeseries(f.sql, q, on), await reportTimeseries(f.sql, q, off), `${metric} by ${groupBy} ${JSON.stringify(extra)}`)
        compared++
      }
    }
  }
  t.ok(compared > 300)
  // count metrics against the rows (one ms later: unaligned, so no rollups; no event at a whole hour)
  for (const metric of ['conversations', 'incoming_messages', 'outgoing_messages', 'resolutions', 'csat'] as const) {
    for (const timezone of ['UTC', 'Europe/Berlin']) {
      const q = { ...filters(partial), metric, groupBy: 'week' as GroupBy, timezone }
      const rows = await reportTimeseries(f.sql, { ...q, since: q.since + 1 })
      t.same((await reportTimeseries(f.sql, q, on)).timeseries.map((b) => b.value), rows.timeseries.map((b) => b.value), `${metric} in ${timezone}: rollups = rows`)
    }
  }
})

t.test('agents and inboxes tables: the same with daily rows and without, and as the rows', async (t) => {
  for (const by of ['agent', 'inbox'] as const) {
    for (const range of [aligned, partial]) {
      for (const extra of [{}, { businessHours: true }, by === 'agent' ? { agentId: bo.id } : { inboxId: mail.id }]) {
        const q = filters(range, extra)
        const a = await reportTable(f.sql, by, q, on)
        t.same(a, await reportTable(f.sql, by, q, off), `${by} table ${JSON.stringify(extra)}, ${range === aligned ? 'aligned' : 'partial days'}`)
        const rows = await reportTable(f.sql, by, { ...q, since: q.since + 1 })
        const counts = (table: typeof a) => table.map((r) => [r.id, r['conversations'], r['incomingMessages'], r['outgoingMessages'], r['resolutions'], r['csat'],
          (r['firstResponseTime'] as { count: number }).count, (r['waitingTime'] as { mean: number | null }).mean])
        t.same(counts(a), counts(rows), `${by} table ${JSON.stringify(extra)}: counts and means as the rows`)
      }
    }
  }
})

t.test('the daily rows are what those reports read', async (t) => {
  // a planted difference in one daily row shows in the reports that read daily rows, not in the others
  const q = filters(partial)
  const before = await reportTable(f.sql, 'inbox', q, on)
  const plant = (by: number) => f.sql`update report_rollups_daily set n = n + ${by}
    where account_id = ${f.account.id} and metric = 'incoming_messages' and dim = 'inbox' and key = ${web.id} and bucket = ${new Date(Z('2026-10-27T00:00:00Z'))}`
  t.equal((await plant(1000)).count, 1, 'one daily row changed')
  const after = await reportTable(f.sql, 'inbox', q, on)
  const web1 = (rows: typeof before) => rows.find((r) => r.id === web.id)?.['incomingMessages'] as number
  t.equal(web1(after), web1(before) + 1000, 'the inbox table read the daily row')
  t.same(await reportTable(f.sql, 'inbox', q, off), before, 'hourly rows only: untouched')
  const berlinDays = { ...filters(partial, { inboxId: web.id }), metric: 'incoming_messages' as const, groupBy: 'day' as GroupBy, timezone: 'Europe/Berlin' }
  // Berlin days are never UTC days, yet read the daily row of the UTC day most of them covers (less its last hours);
  // New York days read it placed at their local midnight (less its first hours)
  for (const [timezone, localDay] of [['Europe/Berlin', Z('2026-10-26T23:00:00Z')], ['America/New_York', Z('2026-10-27T04:00:00Z')]] as const) {
    const q = { ...berlinDays, timezone }
    const a = (await reportTimeseries(f.sql, q, on)).timeseries
    const b = (await reportTimeseries(f.sql, q, off)).timeseries
    t.same(a.map((x) => x.start), b.map((x) => x.start), `${timezone}: the same days`)
    t.same(a.map((x) => (x.start === localDay ? (x.value ?? 0) - 1000 : x.value)), b.map((x) => x.value), `${timezone}: the planted 1000 in local 27 Oct only`)
  }
  const total = (r: { timeseries: { value: number | null }[] }) => r.timeseries.reduce((a, b) => a + (b.value ?? 0), 0)
  const utcWeeks = { ...berlinDays, groupBy: 'week' as GroupBy, timezone: 'UTC' }
  t.equal(total(await reportTimeseries(f.sql, utcWeeks, on)), total(await reportTimeseries(f.sql, utcWeeks, off)) + 1000, 'UTC weeks read daily rows')
  await plant(-1000)
})

// monthly rows (00007): the days summed per UTC month, read for the whole UTC months of a range
const months = { since: Z('2026-10-01T00:00:00Z'), until: Z('2026-12-01T00:00:00Z') }
const dumpMonthly = () => f.sql<Record<string, unknown>[]>`
  select metric, dim, key, bucket, slot, n::int as n, total from report_rollups_monthly where account_id = ${f.account.id} order by 1, 2, 3, 4, 5`

t.test('monthly rows: the daily rows summed per UTC month; a replay adds nothing; the reports over whole months read them', async (t) => {
  const dailyByMonth = await f.sql<Record<string, unknown>[]>`
    select metric, dim, key, date_trunc('month', bucket, 'UTC') as bucket, slot, sum(n)::int as n, sum(total) as total
      from report_rollups_daily where account_id = ${f.account.id} group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5`
  const monthly = await dumpMonthly()
  t.ok(monthly.length > 50, `${monthly.length} monthly rows`)
  t.same(monthly, dailyByMonth, 'every monthly row equals its days')
  const result = await writeBatch(f.sql, f.partition, await f.entries())
  t.equal(result.rows.report_rollups_monthly, undefined, 'no monthly row counted by the replay')
  await f.sql`select rebuild_report_rollups(${f.account.id})`
  t.same(await dumpMonthly(), monthly, 'rebuild_report_rollups makes the same monthly rows')

  const daysOnly: RollupOptions = { exactLimit: 0, monthly: false }
  for (const by of ['agent', 'inbox'] as const) {
    for (const extra of [{}, { businessHours: true }]) {
      const q = filters(months, extra)
      const a = await reportTable(f.sql, by, q, on)
      t.same(a, await reportTable(f.sql, by, q, daysOnly), `${by} table over two whole months ${JSON.stringify(extra)}: the same from months as from days`)
      t.same(a, await reportTable(f.sql, by, q, off), 'and as from hours')
    }
  }
  for (const metric of METRICS) {
    const q = { ...filters(months), metric, groupBy: 'month' as GroupBy, timezone: 'UTC' }
    t.same(await reportTimeseries(f.sql, q, on), await reportTimeseries(f.sql, q, off), `${metric} by UTC month: the same from months as from hours`)
  }
  // a planted difference in one monthly row shows where months are read, nowhere else
  const plant = (by: number) => f.sql`update report_rollups_monthly set n = n + ${by}
    where account_id = ${f.account.id} and metric = 'incoming_messages' and dim = 'inbox' and key = ${web.id} and bucket = ${new Date(Z('2026-10-01T00:00:00Z'))}`
  const q = filters(months)
  const before = await reportTable(f.sql, 'inbox', q, on)
  t.equal((await plant(1000)).count, 1, 'one monthly row changed')
  const web1 = (rows: typeof before) => rows.find((r) => r.id === web.id)?.['incomingMessages'] as number
  t.equal(web1(await reportTable(f.sql, 'inbox', q, on)), web1(before) + 1000, 'the inbox table over whole months read the monthly row')
  t.same(await reportTable(f.sql, 'inbox', q, daysOnly), before, 'days only: untouched')
  t.same(await reportTable(f.sql, 'inbox', filters(partial), on), await reportTable(f.sql, 'inbox', filters(partial), off), 'a range holding no whole month: untouched')
  await plant(-1000)
})
