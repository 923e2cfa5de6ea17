// Reporting events and the reports summary on a scripted timeline with fixed `now` values, run
// through the engine's Lua scripts, archived by the consumer, read back with reportSummary:
// every figure equals the value computed by hand below.
import t from 'tap';
import { parseSummaryQuery, reportSummary } from '../../engine/archive/reports.js';
import { archiveFixture } from './fixture.js';

const f = await archiveFixture(t);
const T0 = Date.UTC(2024, 0, 10, 9, 0, 0);
const DAY = 86_400_000;
const s = (n: number) => T0 + n * 1000; // T0 + n seconds

// A: assigned to the agent; contact at +10 s, first reply +70 s, contact +100 s, reply +130 s,
//    private note +140 s, resolved +200 s, rated 4 at +210 s
const A = await f.open(T0);
await f.send(A.id, s(10));
await f.assign(A.id, f.agent.id);
await f.send(A.id, s(70), { senderType: 'agent' });
await f.send(A.id, s(100));
await f.send(A.id, s(130), { senderType: 'agent' });
await f.send(A.id, s(140), { senderType: 'agent', private: true, content: 'internal note' });
await f.setStatus(A.id, 'resolved', s(200));
await f.rate(A.id, 4, 'ok', s(210));

// B: created +1 s, contact +2 s, resolved +50 s without a reply, contact +300 s reopens it,
//    first reply +360 s (first response measured from the reopen)
const B = await f.open(s(1));
await f.send(B.id, s(2));
await f.setStatus(B.id, 'resolved', s(50));
await f.send(B.id, s(300));
await f.send(B.id, s(360), { senderType: 'agent' });

// C: pending; D: snoozed
const C = await f.open(s(5));
await f.setStatus(C.id, 'pending', s(6));
const D = await f.open(s(7));
await f.setStatus(D.id, 'snoozed', s(8), s(900));

// G: assigned to someone else; contact +30 s, reply +80 s, resolved +90 s, rated 2 at +95 s
const G = await f.open(s(20));
await f.assign(G.id, 'ag_someone_else');
await f.send(G.id, s(30));
await f.send(G.id, s(80), { senderType: 'agent' });
await f.setStatus(G.id, 'resolved', s(90));
await f.rate(G.id, 2, null, s(95));

// outside [T0, T0 + 1 day): E created just before, F exactly at the end
const E = await f.open(T0 - 1000);
await f.send(E.id, T0 + 1);
await f.send(E.id, T0 + 2, { senderType: 'agent' });
await f.setStatus(E.id, 'resolved', T0 + 3);
const F = await f.open(T0 + DAY);
await f.send(F.id, T0 + DAY + 1);

// H (two days later): resolved, reopened by an agent, then first reply
const H = await f.open(T0 + 2 * DAY);
await f.setStatus(H.id, 'resolved', T0 + 2 * DAY + 10_000);
await f.setStatus(H.id, 'open', T0 + 2 * DAY + 50_000);
await f.send(H.id, T0 + 2 * DAY + 70_000, { senderType: 'agent' });

const { consumer } = f.consumer(t, { batchSize: 7 }); // small batches: state spans batches
await f.drained(consumer);

const close = (a: number | null | undefined, b: number) => a !== null && a !== undefined && Math.abs(a - b) < 1e-6;

async function events(conversationId: string) {
  return f.sql<{ name: string; value: number; agent_id: string | null; event_start_time: Date; event_end_time: Date }[]>`
    select name, value, agent_id, event_start_time, event_end_time from reporting_events
     where conversation_id = ${conversationId} order by event_end_time, name`;
}

t.test('reporting events: first response, reply time, resolution, reopen, as Chatwoot defines them', async (t) => {
  t.same((await events(A.id)).map((e) => [e.name, e.value, e.agent_id]), [
    ['first_response', 70_000, f.agent.id],
    ['reply_time', 70_000, f.agent.id],
    ['reply_time', 30_000, f.agent.id],
    ['conversation_resolved', 200_000, f.agent.id],
  ]);
  t.same((await events(B.id)).map((e) => [e.name, e.value, e.agent_id]), [
    ['conversation_resolved', 49_000, null],
    ['conversation_opened', 250_000, null],
    ['first_response', 60_000, f.agent.id],
    ['reply_time', 60_000, null],
  ], 'reopened by a contact message: opened = time since the resolution; first response from the reopen');
  const b = await events(B.id);
  t.equal(b[1]?.event_start_time.getTime(), s(50), 'the reopen starts at the resolution');
  t.equal(b[2]?.event_start_time.getTime(), s(300), 'the first response starts at the reopen');
  t.same((await events(H.id)).map((e) => [e.name, e.value]), [
    ['conversation_resolved', 10_000],
    ['conversation_opened', 40_000],
    ['first_response', 20_000],
  ], 'reopened by an agent (previousStatus resolved); no reply time: resolving cleared waitingSince');
  t.same(await events(C.id), [], 'pending: no event');
  t.same(await events(D.id), [], 'snoozed: no event');
  t.same(await f.sql`select score, comment, agent_id from csat_responses where conversation_id in (${A.id}, ${G.id}) order by score`, [
    { score: 2, comment: null, agent_id: 'ag_someone_else' },
    { score: 4, comment: 'ok', agent_id: f.agent.id },
  ]);
  const [conv] = await f.sql`select rating_score, rating_comment, status from conversations where id = ${A.id}`;
  t.same(conv, { rating_score: 4, rating_comment: 'ok', status: 'resolved' });
});

t.test('the summary over [since, until): hand-computed figures', async (t) => {
  const r = await reportSummary(f.sql, { accountId: f.account.id, since: T0, until: T0 + DAY });
  t.same(Object.keys(r), ['summary']);
  t.same(Object.keys(r.summary), ['conversations', 'messages', 'firstResponseMs', 'resolutionMs', 'csat']);
  t.same(r.summary.conversations, { open: 1, pending: 1, snoozed: 1, resolved: 2 }, 'A, G resolved; B open; C pending; D snoozed');
  t.same(r.summary.messages, { incoming: 5, outgoing: 4 }, 'private notes and activity messages are not counted');
  t.equal(r.summary.firstResponseMs.count, 3);
  t.ok(close(r.summary.firstResponseMs.mean, (70_000 + 60_000 + 60_000) / 3), `mean ${r.summary.firstResponseMs.mean}`);
  t.ok(close(r.summary.firstResponseMs.p90, 68_000), `p90 of [60000, 60000, 70000] interpolates to 68000: ${r.summary.firstResponseMs.p90}`);
  t.equal(r.summary.resolutionMs.count, 3);
  t.ok(close(r.summary.resolutionMs.mean, (200_000 + 49_000 + 70_000) / 3));
  t.same(r.summary.csat, { count: 2, mean: 3 });
});

t.test('filters: an inbox, an agent (assignee for conversations, agent_id for events)', async (t) => {
  const byAgent = await reportSummary(f.sql, { accountId: f.account.id, since: T0, until: T0 + DAY, agentId: f.agent.id });
  t.same(byAgent.summary, {
    conversations: { open: 0, pending: 0, snoozed: 0, resolved: 1 },
    messages: { incoming: 2, outgoing: 2 },
    firstResponseMs: { count: 1, mean: 70_000, p90: 70_000 },
    resolutionMs: { count: 1, mean: 200_000 },
    csat: { count: 1, mean: 4 },
  });
  const sameInbox = await reportSummary(f.sql, { accountId: f.account.id, since: T0, until: T0 + DAY, inboxId: f.inbox.id });
  t.same(sameInbox.summary.conversations, { open: 1, pending: 1, snoozed: 1, resolved: 2 });
  const none = await reportSummary(f.sql, { accountId: f.account.id, since: T0, until: T0 + DAY, inboxId: 'in_other' });
  t.same(none, {
    summary: {
      conversations: { open: 0, pending: 0, snoozed: 0, resolved: 0 },
      messages: { incoming: 0, outgoing: 0 },
      firstResponseMs: { count: 0, mean: null, p90: null },
      resolutionMs: { count: 0, mean: null },
      csat: { count: 0, mean: null },
    },
  }, 'null where there is nothing to average');
  const otherAccount = await reportSummary(f.sql, { accountId: 'a_nobody', since: T0 - DAY, until: T0 + 3 * DAY });
  t.same(otherAccount.summary.conversations, { open: 0, pending: 0, snoozed: 0, resolved: 0 }, 'tenants never mix');
  const edges = await reportSummary(f.sql, { accountId: f.account.id, since: T0 - 1000, until: T0 + DAY + 1 });
  t.same(edges.summary.conversations, { open: 2, pending: 1, snoozed: 1, resolved: 3 }, 'since is inclusive (E), until exclusive (F in only when until passes it)');
  await t.rejects(reportSummary(f.sql, { accountId: f.account.id, since: 1.5, until: 2 }), RangeError);
});

t.test('parseSummaryQuery: since and until required integers in order; ids optional', async (t) => {
  t.same(parseSummaryQuery('a_1', `since=${T0}&until=${T0 + 1}`), { accountId: 'a_1', since: T0, until: T0 + 1, inboxId: undefined, agentId: undefined });
  t.match(parseSummaryQuery('a_1', 'since=1&until=2&inboxId=in_x&agentId=ag_y'), { inboxId: 'in_x', agentId: 'ag_y' });
  for (const q of ['', 'since=1', 'until=2', 'since=x&until=2', 'since=2&until=1', 'since=1&until=1', 'since=1.5&until=2', `since=1&until=2&agentId=${'x'.repeat(101)}`]) {
    t.throws(() => parseSummaryQuery('a_1', q), { code: 'bad_request' }, JSON.stringify(q));
  }
});
