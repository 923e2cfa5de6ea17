// Reports on a hand-computed dataset, driven through the engine's scripts at fixed times, archived
// by the real consumer, read through the engine's HTTP API (a real engine process on the same Redis
// and PostgreSQL). Europe/Berlin moves to summer time on Sunday 2026-03-29 (02:00 CET -> 03:00 CEST),
// inside the range; the Web inbox keeps business hours Mon–Fri 09:00–17:00 Berlin time, so a
// Friday-evening conversation answered on Monday has waited 2 business hours across the weekend.
// Ada is in Web; Bo is in Web and Mail.
import t from 'tap'
import { createConversationCall, json } from '../../lua/scripts.js'
import { newId, newUid } from '../../engine/ids.js'
import { setInboxBusinessHours } from '../../engine/reports/business-hours.js'
import { ADMIN_TOKEN, startEngine } from '../helpers/engine.js'
import type { Json } from '../helpers/admin.js'
import { archiveFixture, PARTITIONS } from '../archiver/fixture.js'
import { writeBatch } from '../../archiver/sink.js'

const f = await archiveFixture(t)
const web = f.inbox
const { inbox: mail } = await f.directory.createInbox(f.account.id, { name: 'Mail', allowedOrigins: [], messagesPerMinute: 1000, autoAssign: false })
const ada = f.agent
const { agent: bo } = await f.directory.createAgent(f.account.id, { name: 'Bo', role: 'agent', inboxIds: [web.id, mail.id], maxConversations: null })
await setInboxBusinessHours({ redis: f.redis, partitions: PARTITIONS }, f.account.id, web.id, {
  timezone: 'Europe/Berlin',
  weekly: { mon: [{ open: '09:00', close: '17:00' }], tue: [{ open: '09:00', close: '17:00' }], wed: [{ open: '09:00', close: '17:00' }], thu: [{ open: '09:00', close: '17:00' }], fri: [{ open: '09:00', close: '17:00' }] },
})

const Z = (iso: string) => Date.parse(iso)
const H = 3_600_000
const M = 60_000

// A (Web, Bo): Fri 27 Mar 16:00 CET (15:00Z); answered Mon 30 Mar 10:00 CEST (08:00Z); resolved 11:00 CEST; rated 5
const A = await f.open(Z('2026-03-27T15:00:00Z'))
await f.assign(A.id, bo.id)
await f.send(A.id, Z('2026-03-27T15:00:10Z'))
await f.send(A.id, Z('2026-03-30T08:00:00Z'), { senderType: 'agent', senderId: bo.id })
await f.setStatus(A.id, 'resolved', Z('2026-03-30T09:00:00Z'))
await f.rate(A.id, 5, 'great, thanks', Z('2026-03-30T09:30:00Z'))
// B (Web, Ada): Sun 29 Mar 01:30 CET (00:30Z); answered 03:30 CEST (01:30Z: one real hour); a note; resolved 02:00Z; rated 3
const B = await f.open(Z('2026-03-29T00:30:00Z'))
await f.assign(B.id, ada.id)
await f.send(B.id, Z('2026-03-29T00:30:10Z'))
await f.send(B.id, Z('2026-03-29T01:30:00Z'), { senderType: 'agent' })
await f.send(B.id, Z('2026-03-29T01:35:00Z'), { senderType: 'agent', private: true, content: 'note' })
await f.setStatus(B.id, 'resolved', Z('2026-03-29T02:00:00Z'))
await f.rate(B.id, 3, null, Z('2026-03-29T02:10:00Z'))
// C (Mail, Bo): Mon 30 Mar 00:30 CEST (29 Mar 22:30Z); the contact writes at 22:31Z, answered at 22:41Z: 11 minutes after it opened
const contactC = await f.directory.createContact(f.account.id, mail.id, null)
const C = json(await f.scripts.run(createConversationCall(f.k, {
  id: newId('cv'), accountId: f.account.id, inboxId: mail.id, contactId: contactC.id, now: Z('2026-03-29T22:30:00Z'), uid: newUid(), additionalAttributes: '{}',
})), 1) as { id: string }
await f.assign(C.id, bo.id)
await f.send(C.id, Z('2026-03-29T22:31:00Z'), { senderId: contactC.id })
await f.send(C.id, Z('2026-03-29T22:41:00Z'), { senderType: 'agent', senderId: bo.id })
// D (Web, nobody): 28 Mar 23:30Z = Sun 29 Mar 00:30 CET: a Sunday conversation in Berlin, a Saturday one in UTC
const D = await f.open(Z('2026-03-28T23:30:00Z'))
await f.send(D.id, Z('2026-03-28T23:30:10Z'))
// E: 26 Mar 22:59Z = 23:59 CET, just before the range
const E = await f.open(Z('2026-03-26T22:59:00Z'))
await f.send(E.id, Z('2026-03-26T22:59:30Z'))

const { consumer } = f.consumer(t)
await f.drained(consumer)

const engine = await startEngine(t, { redisUrl: f.redisServer.url, env: { DATABASE_URL: f.pg.url, PARTITIONS: String(PARTITIONS) } })
const since = Z('2026-03-26T23:00:00Z') // Fri 27 Mar 00:00 Berlin
const until = Z('2026-03-30T22:00:00Z') // Tue 31 Mar 00:00 Berlin
const get = async (path: string, query: Record<string, string | number | boolean>, accept = 'application/json') => {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString()
  const res = await fetch(`${engine.http}/api/v1/accounts/${f.account.id}/reports/${path}?${qs}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept } })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}
const report = async (path: string, query: Record<string, string | number | boolean>): Promise<Json> => {
  const r = await get(path, query)
  if (r.status !== 200) throw new Error(`${path} → ${r.status} ${r.text}`)
  return JSON.parse(r.text) as Json
}
const series = async (metric: string, extra: Record<string, string | number | boolean> = {}) =>
  (await report('timeseries', { metric, groupBy: 'day', timezone: 'Europe/Berlin', since, until, ...extra }))['timeseries'] as Json[]
const days = [Z('2026-03-26T23:00:00Z'), Z('2026-03-27T23:00:00Z'), Z('2026-03-28T23:00:00Z'), Z('2026-03-29T22:00:00Z')]

t.test('timeseries by Berlin day across the DST change: every bucket, local midnights', async (t) => {
  const conv = await series('conversations')
  t.same(conv, days.map((start, i) => ({ start, value: [1, 0, 2, 1][i] })), 'A | nothing on Saturday | B and D | C; E is before the range')
  t.same((await series('incoming_messages')).map((b) => b['value']), [1, 0, 2, 1])
  t.same((await series('outgoing_messages')).map((b) => b['value']), [0, 0, 1, 2], 'the note is not counted')
  t.same((await series('resolutions')).map((b) => b['value']), [0, 0, 1, 1])
  t.same((await series('conversations', { timezone: 'UTC', since: Z('2026-03-27T00:00:00Z'), until: Z('2026-03-31T00:00:00Z') })).map((b) => b['value']), [1, 1, 2, 0], 'in UTC D is a Saturday conversation and C a Sunday one')
  const fr = await series('first_response_time')
  t.same(fr[0], { start: days[0], value: null, count: 0, mean: null, p50: null, p90: null }, 'an empty bucket: null averages')
  t.same(fr[2], { start: days[2], value: H, count: 1, mean: H, p50: H, p90: H }, 'B: one real hour, though the clock moved two')
  t.same(fr[3], { start: days[3], value: 117_330_000, count: 2, mean: 117_330_000, p50: 117_330_000, p90: 660_000 + 0.9 * (65 * H - 660_000) }, 'A (65 h) and C (11 min)')
  const frBusiness = await series('first_response_time', { businessHours: true })
  t.match(frBusiness[3], { count: 2, mean: (2 * H + 11 * M) / 2 }, 'A: Fri 16–17 and Mon 9–10 = 2 business hours; C: Mail has none, 11 min')
  t.match(frBusiness[2], { count: 1, mean: 0 }, 'B: a Sunday, outside business hours')
  t.match((await series('resolution_time', { businessHours: true }))[3], { count: 1, mean: 3 * H }, 'A resolved Monday 11:00: 1 + 2 business hours')
  t.match((await series('resolution_time'))[3], { count: 1, mean: 66 * H })
  t.match((await series('waiting_time'))[3], { count: 2, mean: (65 * H + 11 * M) / 2 })
  const csat = await series('csat')
  t.same(csat[2], { start: days[2], value: 3, count: 1, mean: 3, distribution: { 1: 0, 2: 0, 3: 1, 4: 0, 5: 0 } })
  t.same(csat[3], { start: days[3], value: 5, count: 1, mean: 5, distribution: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 1 } })
  t.same((await series('conversations', { inboxId: mail.id })).map((b) => b['value']), [0, 0, 0, 1])
  t.same((await series('conversations', { agentId: bo.id })).map((b) => b['value']), [1, 0, 0, 1])
  t.same((await series('incoming_messages', { agentId: bo.id })).map((b) => b['value']), [1, 0, 0, 1], "incoming messages of Bo's conversations")
})

t.test('by hour on the day with 23 hours; by week and month', async (t) => {
  const hours = await series('conversations', { groupBy: 'hour', since: Z('2026-03-28T23:00:00Z'), until: Z('2026-03-29T22:00:00Z') })
  t.equal(hours.length, 23, 'Sunday 29 March has 23 hours in Berlin')
  t.same(hours.slice(0, 3).map((b) => [b['start'], b['value']]), [[Z('2026-03-28T23:00:00Z'), 1], [Z('2026-03-29T00:00:00Z'), 1], [Z('2026-03-29T01:00:00Z'), 0]], 'D at 00:30 CET, B at 01:30 CET, then 03:00 CEST')
  const weeks = await series('conversations', { groupBy: 'week' })
  t.same(weeks, [{ start: Z('2026-03-22T23:00:00Z'), value: 3 }, { start: Z('2026-03-29T22:00:00Z'), value: 1 }], 'ISO weeks from Monday 00:00 Berlin')
  const months = await series('conversations', { groupBy: 'month', since: Z('2026-02-15T00:00:00Z') })
  t.same(months, [{ start: Z('2026-01-31T23:00:00Z'), value: 0 }, { start: Z('2026-02-28T23:00:00Z'), value: 5 }], 'every month from the first, E included now')
})

t.test('agents and inboxes: a row each, an agent in two inboxes counted where it worked', async (t) => {
  const { agents } = await report('agents', { since, until })
  t.same(agents.map((a: Json) => a['name']), ['Ada', 'Bo'])
  t.match(agents[0], {
    id: ada.id, conversations: 1, incomingMessages: 1, outgoingMessages: 1, resolutions: 1,
    firstResponseTime: { count: 1, mean: H }, resolutionTime: { count: 1, mean: 90 * M }, csat: { count: 1, mean: 3 },
  })
  t.match(agents[1], {
    id: bo.id, conversations: 2, incomingMessages: 2, outgoingMessages: 2, resolutions: 1,
    firstResponseTime: { count: 2, mean: 117_330_000 }, csat: { count: 1, mean: 5, distribution: { 5: 1 } },
  })
  const inMail = (await report('agents', { since, until, inboxId: mail.id }))['agents'] as Json[]
  t.same(inMail.map((a) => [a['name'], a['conversations'], a['firstResponseTime']['mean']]), [['Bo', 1, 11 * M]], 'Mail: only Bo, only his Mail work')
  const { inboxes } = await report('inboxes', { since, until })
  t.same(inboxes.map((i: Json) => [i['name'], i['conversations'], i['incomingMessages'], i['outgoingMessages'], i['csat']['count']]), [['Mail', 1, 1, 1, 0], ['Web', 3, 3, 2, 2]])
  const bhWeb = (await report('inboxes', { since, until, businessHours: true, inboxId: web.id }))['inboxes'] as Json[]
  t.match(bhWeb, [{ name: 'Web', firstResponseTime: { count: 2, mean: H } }], 'Web in business hours: A 2 h, B 0')
})

t.test('csat: answers with comments, paged; CSV for every report', async (t) => {
  const p1 = await report('csat', { since, until, limit: 1 })
  t.match(p1, { ratings: [{ conversationId: A.id, score: 5, comment: 'great, thanks', agentId: bo.id, inboxId: web.id, displayId: Number }], summary: { count: 2, mean: 4 } })
  const p2 = await report('csat', { since, until, limit: 1, cursor: p1['cursor'] as string })
  t.match(p2, { ratings: [{ conversationId: B.id, score: 3, comment: null }], cursor: null })
  const csv = await get('timeseries', { metric: 'first_response_time', since, until, timezone: 'Europe/Berlin' }, 'text/csv')
  t.equal(csv.status, 200)
  t.match(csv.type, /^text\/csv/)
  t.equal(csv.text, `start,value,count,mean,p50,p90\r\n${days[0]},,0,,,\r\n${days[1]},,0,,,\r\n${days[2]},3600000,1,3600000,3600000,3600000\r\n${days[3]},117330000,2,117330000,117330000,${660_000 + 0.9 * (65 * H - 660_000)}\r\n`)
  const agentsCsv = await get('agents', { since, until }, 'text/csv')
  t.match(agentsCsv.text.split('\r\n')[0], /^id,name,conversations,incomingMessages,outgoingMessages,firstResponseTime\.count,firstResponseTime\.mean/)
  t.match(agentsCsv.text.split('\r\n')[2], new RegExp(`^${bo.id},Bo,2,2,2,`))
  const ratingsCsv = await get('csat', { since, until }, 'text/csv')
  t.match(ratingsCsv.text, /"great, thanks"/, 'commas quoted')
})

t.test('rollups: kept by the archiver, idempotent on replay, the same figures as the rows', async (t) => {
  const sums = async () => f.sql<{ metric: string; n: number; total: number }[]>`
    select metric, sum(n)::int as n, sum(total)::float8 as total from report_rollups
     where account_id = ${f.account.id} and dim = 'all' group by metric order by metric`
  const before = await sums()
  t.same(before.map((r) => [r.metric, r.n]), [
    ['conversation_resolved', 2], ['conversation_resolved:bh', 2], ['conversations', 5], ['csat', 2], ['first_response', 3], ['first_response:bh', 3],
    ['incoming_messages', 5], ['outgoing_messages', 3], ['reply_time', 3], ['reply_time:bh', 3],
  ], 'A–E; the note and activity messages are not counted')
  t.equal(before.find((r) => r.metric === 'csat')?.total, 8, 'scores 5 + 3')
  t.equal(before.find((r) => r.metric === 'first_response:bh')?.total, 2 * H + 0 + 11 * M, 'business-hours values: A 2 h, B 0, C 11 min')
  const [byBo] = await f.sql<{ n: number }[]>`select sum(n)::int as n from report_rollups where account_id = ${f.account.id} and metric = 'outgoing_messages' and dim = 'agent' and key = ${bo.id}`
  t.equal(byBo?.n, 2)
  await writeBatch(f.sql, f.partition, await f.entries())
  t.same(await sums(), before, 'a replayed batch adds nothing')
  // an unaligned range reads the rows: the same answers
  for (const metric of ['conversations', 'incoming_messages', 'outgoing_messages', 'csat', 'resolutions']) {
    const rolled = await series(metric)
    const raw = await series(metric, { since: since + 1 })
    t.same(raw.map((b) => b['value']), rolled.map((b) => b['value']), `${metric}: rows and rollups agree`)
  }
  t.same((await report('agents', { since: since + 1, until }))['agents'], (await report('agents', { since, until }))['agents'], 'agents table: rows and rollups agree')
})

t.test('bad input: 400 bad_request with a clear message', async (t) => {
  const bad = async (path: string, query: Record<string, string | number>, message: RegExp) => {
    const r = await get(path, query)
    t.equal(r.status, 400, `${path} ${JSON.stringify(query).slice(0, 80)}`)
    t.match(JSON.parse(r.text), { error: { code: 'bad_request', message } })
  }
  await bad('timeseries', { metric: 'happiness', since, until }, /unknown metric "happiness": one of conversations, incoming_messages/)
  await bad('timeseries', { since, until }, /`metric` is required/)
  await bad('timeseries', { metric: 'conversations', since: until, until: since }, /`since` must be before `until`/)
  await bad('timeseries', { metric: 'conversations', groupBy: 'hour', since: Z('2016-01-01T00:00:00Z'), until: Z('2026-01-01T00:00:00Z') }, /87673 hour buckets, more than 4000/)
  await bad('timeseries', { metric: 'conversations', timezone: 'Mars/Olympus_Mons', since, until }, /not a known time zone/)
  await bad('timeseries', { metric: 'conversations', timezone: "UTC'; drop table messages; --", since, until }, /IANA time zone/)
  await bad('timeseries', { metric: 'conversations', groupBy: 'fortnight', since, until }, /`groupBy` must be one of hour, day, week, month/)
  await bad('timeseries', { metric: 'conversations', since: 'yesterday', until }, /`since` must be a time in ms/)
  await bad('agents', { since, until, pad: 'x'.repeat(10_240) }, /query string is over 2048 characters/)
  await bad('csat', { since, until, cursor: 'bm9wZQ' }, /`cursor` is not a cursor/)
  await bad('inboxes', { since, until, inboxId: 'web' }, /`inboxId` must be an id like in_/)
  const unauthorized = await fetch(`${engine.http}/api/v1/accounts/${f.account.id}/reports/agents?since=1&until=2`)
  t.equal(unauthorized.status, 401)
  const patch = async (body: unknown) => (await fetch(`${engine.http}/api/v1/accounts/${f.account.id}/inboxes/${mail.id}`, {
    method: 'PATCH', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  }))
  for (const [body, message] of [
    [{ businessHours: { timezone: 'Nowhere/City', weekly: {} } }, /not a known time zone/],
    [{ businessHours: { timezone: 'UTC', weekly: { funday: [] } } }, /not a day/],
    [{ businessHours: { timezone: 'UTC', weekly: { mon: [{ open: '17:00', close: '09:00' }] } } }, /open before it closes/],
    [{ businessHours: { timezone: 'UTC', weekly: { mon: [{ open: '9am', close: '17:00' }] } } }, /HH:MM/],
    [{ businessHours: { timezone: 'UTC', weekly: { mon: [{ open: '09:00', close: '13:00' }, { open: '12:00', close: '17:00' }] } } }, /overlapping/],
  ] as const) {
    const r = await patch(body)
    t.equal(r.status, 400)
    t.match(await r.json(), { error: { code: 'bad_request', message } })
  }
  const ok = await patch({ businessHours: { timezone: 'Asia/Kolkata', weekly: { sat: [{ open: '10:00', close: '24:00' }] } } })
  t.match(await ok.json(), { inbox: { id: mail.id, name: 'Mail', businessHours: { timezone: 'Asia/Kolkata', weekly: { sat: [{ open: '10:00', close: '24:00' }] } } } })
})
