// History beyond the Redis hot tail: a conversation whose oldest messages were trimmed from its
// Redis log is paged like the engine does (Redis first, then historyBefore from PostgreSQL with
// the oldest Redis message as the cursor): every message exactly once, in order, in the same
// protocol shape as the Redis entries.
import t from 'tap';
import { historyBefore, type ArchivedMessage } from '../../engine/archive/history.js';
import { messageFromEntry, type Message } from '../../engine/views.js';
import { archiveFixture } from './fixture.js';

const f = await archiveFixture(t);
const T0 = Date.UTC(2024, 8, 1, 9, 0, 0);

const conv = await f.open(T0);
const N = 57;
for (let i = 0; i < N; i++) {
  // three messages per millisecond: created_at ties are ordered by stream id
  const at = T0 + 10 + Math.floor(i / 3);
  if (i % 5 === 0) await f.send(conv.id, at, { senderType: 'agent', private: i % 10 === 0, content: `note ${i}` });
  else await f.send(conv.id, at, { content: `m${i}`, echoId: `e${i}`, contentAttributes: JSON.stringify({ n: i }) });
}
await f.setStatus(conv.id, 'resolved', T0 + 100); // an activity message too
const log = f.k.conversationLog(conv.id);
const all = ((await f.redis.xrange(log, '-', '+')) as [string, string[]][]).map(([id, fields]) => messageFromEntry(id, fields) as Message);
if (all.length !== N + 1) throw new Error(`expected ${N + 1} log entries, got ${all.length}`);

const { consumer } = f.consumer(t);
await f.drained(consumer);
const HOT = 10;
await f.redis.xtrim(log, 'MAXLEN', HOT); // the hot tail keeps the last 10

type Page = { messages: (Message | ArchivedMessage)[]; more: boolean };

/** The engine's history op: the Redis tail first, PostgreSQL once it runs out. */
async function history(before: string | null, beforeCreatedAt: number | null, limit: number, includePrivate: boolean): Promise<Page & { cursorAt: number | null }> {
  const entries = (await f.redis.xrevrange(log, before === null ? '+' : `(${before}`, '-', 'COUNT', limit)) as [string, string[]][];
  const hot = entries.map(([id, fields]) => messageFromEntry(id, fields) as Message).reverse().filter((m) => includePrivate || !m.private);
  let messages: (Message | ArchivedMessage)[] = hot;
  let more = true;
  if (entries.length < limit) {
    const oldest = entries[entries.length - 1];
    const cursor = oldest === undefined ? before : oldest[0];
    const cursorAt = oldest === undefined ? beforeCreatedAt : (messageFromEntry(oldest[0], oldest[1]) as Message).createdAt;
    const cold = await historyBefore(f.sql, {
      accountId: f.account.id, conversationId: conv.id, before: cursor, beforeCreatedAt: cursorAt, limit: limit - entries.length, includePrivate,
    });
    messages = [...cold.messages, ...hot];
    more = cold.more;
  }
  return { messages, more, cursorAt: messages[0]?.createdAt ?? null };
}

for (const includePrivate of [true, false]) {
  t.test(`paging from the newest to the first across the boundary (${includePrivate ? 'agent' : 'contact'} view)`, async (t) => {
    const expected = all.filter((m) => includePrivate || !m.private);
    const seen: (Message | ArchivedMessage)[] = [];
    let before: string | null = null;
    let beforeAt: number | null = null;
    let pages = 0;
    for (;;) {
      const page = await history(before, beforeAt, 8, includePrivate);
      pages++;
      seen.unshift(...page.messages);
      if (!page.more || page.messages.length === 0) break;
      before = page.messages[0]?.id ?? null;
      beforeAt = page.cursorAt;
      if (pages > 50) break;
    }
    t.equal(seen.length, expected.length, 'no gap, no repeat');
    t.same(seen.map((m) => m.id), expected.map((m) => m.id), 'in order');
    t.same(seen, expected, 'archived messages have exactly the protocol shape of the Redis entries');
    t.ok(pages >= 6);
  });
}

t.test('historyBefore on its own: newest page, cursor looked up when its time is not given, more', async (t) => {
  const q = { accountId: f.account.id, conversationId: conv.id, includePrivate: true };
  const newest = await historyBefore(f.sql, { ...q, before: null, limit: 5 });
  t.same(newest.messages.map((m) => m.id), all.slice(-5).map((m) => m.id));
  t.equal(newest.more, true);
  const cursor = all[20] as Message;
  const looked = await historyBefore(f.sql, { ...q, before: cursor.id, limit: 4 });
  const given = await historyBefore(f.sql, { ...q, before: cursor.id, beforeCreatedAt: cursor.createdAt, limit: 4 });
  t.same(looked, given);
  t.same(looked.messages.map((m) => m.id), all.slice(16, 20).map((m) => m.id), 'strictly older than the cursor');
  const first = await historyBefore(f.sql, { ...q, before: (all[3] as Message).id, limit: 10 });
  t.same(first, { messages: all.slice(0, 3), more: false });
  const other = await historyBefore(f.sql, { ...q, accountId: 'a_other', before: null, limit: 10 });
  t.same(other, { messages: [], more: false }, 'another account sees nothing');
  await t.rejects(historyBefore(f.sql, { ...q, before: 'drop table', limit: 1 }), RangeError);
});
