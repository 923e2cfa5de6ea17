// The batch writer against a real PostgreSQL, fed with entries the engine's own code wrote into a
// real Redis stream: exactly N rows for N messages, replays insert nothing, conversations never go
// back in time, children before parents, dead letters instead of a wedged stream.
import t from 'tap';
import { eventFields } from '../../lua/codec.js';
import { writeBatch, type RawEntry } from '../../archiver/sink.js';
import { messageFromEntry } from '../../engine/views.js';
import { newId, newUid } from '../../engine/ids.js';
import { archiveFixture } from './fixture.js';

const f = await archiveFixture(t);
const T0 = Date.UTC(2024, 2, 1, 9, 0, 0);

t.test('N messages in, exactly N rows, each as the protocol spells it; a replay adds nothing', async (t) => {
  const conv = await f.open(T0);
  const N = 60;
  for (let i = 0; i < N; i++) await f.send(conv.id, T0 + 1000 + i, i % 3 === 0 ? { senderType: 'agent' } : {});
  const entries = await f.entries();
  const first = await writeBatch(f.sql, f.partition, entries);
  t.equal(first.rows.messages, N);
  t.equal(await f.count('messages', f.sql`conversation_id = ${conv.id}`), N);
  t.equal(first.deadLetters.length, 0);

  const replay = await writeBatch(f.sql, f.partition, entries);
  t.equal(replay.rows.messages, undefined, 'a replayed batch inserts no message');
  t.equal(replay.rows.conversations, undefined, 'nor rewrites the conversation');
  t.equal(replay.rows.reporting_events, undefined);
  t.equal(await f.count('messages', f.sql`conversation_id = ${conv.id}`), N);

  // the stored row is the message of the conversation log, field for field
  const log = (await f.redis.xrange(f.k.conversationLog(conv.id), '-', '+')) as [string, string[]][];
  const [id, fields] = log[1] as [string, string[]];
  const m = messageFromEntry(id, fields);
  const [row] = await f.sql`select * from messages where uid = ${String(m?.['uid'])}`;
  t.match(row, {
    stream_id: id, conversation_id: conv.id, account_id: f.account.id, inbox_id: f.inbox.id, type: 'incoming',
    content: m?.['content'], content_type: 'text', content_attributes: {}, private: false, echo_id: null, source_id: null,
    status: 'sent', sender_type: 'contact', sender_id: f.contactOf.get(conv.id),
  });
  t.equal((row?.['created_at'] as Date).getTime(), m?.createdAt);

  const [cp] = await f.sql`select last_id from archiver_checkpoints where partition = ${f.partition}`;
  t.equal(cp?.['last_id'], entries[entries.length - 1]?.id, 'the checkpoint is the last entry of the batch');
});

t.test('message text and attributes survive the column arrays byte for byte', async (t) => {
  const conv = await f.open(T0 + 5000);
  const contents = ['NULL', '', '"quoted" and \\ backslash \\"', '{braces},commas', 'line\nbreak\ttab', 'émoji 🎉 ü', ' padded ', "it's"];
  for (const [i, content] of contents.entries()) {
    await f.send(conv.id, T0 + 5001 + i, {
      content, echoId: i === 0 ? 'NULL' : null, contentAttributes: JSON.stringify(i === 1 ? { items: [{ title: 'a "b"' }], n: null } : {}),
      ...(i % 2 === 0 ? { senderType: 'agent', private: i === 2 } : {}),
    });
  }
  const result = await writeBatch(f.sql, f.partition, await f.entries());
  t.equal(result.deadLetters.length, 0);
  const rows = await f.sql`select content, echo_id, content_attributes, private, sender_type from messages where conversation_id = ${conv.id} order by created_at`;
  t.same(rows.map((r) => r['content']), contents, 'every content exactly, the string NULL included')
  t.equal(rows[0]?.['echo_id'], 'NULL', 'a text NULL is not a null')
  t.equal(rows[1]?.['echo_id'], null, 'a null is a null')
  t.same(rows[1]?.['content_attributes'], { items: [{ title: 'a "b"' }], n: null })
  t.same(rows.map((r) => r['private']), contents.map((_, i) => i === 2))
  t.same(rows.map((r) => r['sender_type']), contents.map((_, i) => (i % 2 === 0 ? 'agent' : 'contact')))
});

t.test('the configuration rows: account, inbox, agent with its inboxes, contact with its inbox', async (t) => {
  const [acct] = await f.sql`select name from accounts where id = ${f.account.id}`;
  t.same(acct, { name: 'Acme' });
  const [inbox] = await f.sql`select name, website_token, allowed_origins, messages_per_minute, auto_assign from inboxes where id = ${f.inbox.id}`;
  t.same(inbox, { name: 'Web', website_token: f.inbox.websiteToken, allowed_origins: ['https://acme.test'], messages_per_minute: 1000, auto_assign: true });
  const [agent] = await f.sql`select name, role, availability, max_conversations from agents where id = ${f.agent.id}`;
  t.same(agent, { name: 'Ada', role: 'agent', availability: 'online', max_conversations: null });
  t.equal(await f.count('inbox_members', f.sql`agent_id = ${f.agent.id} and inbox_id = ${f.inbox.id}`), 1);
  t.equal(await f.count('contacts', f.sql`id = ${f.contact.id}`), 1);
  t.equal(await f.count('contact_inboxes', f.sql`contact_id = ${f.contact.id} and inbox_id = ${f.inbox.id}`), 1);
});

/** One entry written by hand with the codec's field layout. */
function entry(id: string, type: string, accountId: string, ts: number, data: unknown, uid = newUid()): RawEntry {
  return { id, fields: eventFields(type, accountId, uid, ts, data) };
}

t.test('a child committed before its parent (another archiver holds the parent): placeholders, filled in later', async (t) => {
  const accountId = newId('a');
  const inboxId = newId('in');
  const agentId = newId('ag');
  const agent = { id: agentId, accountId, name: 'Bo', role: 'administrator', availability: 'busy', inboxIds: [inboxId], maxConversations: 3 };
  await writeBatch(f.sql, 13, [entry('2000-0', 'agent.created', accountId, T0, agent)]);
  t.same(await f.sql`select name from accounts where id = ${accountId}`, [{ name: '' }], 'placeholder account');
  t.equal(await f.count('inbox_members', f.sql`agent_id = ${agentId}`), 1);

  const inbox = { id: inboxId, accountId, name: 'Mail', websiteToken: `${accountId}.tok`, allowedOrigins: [], messagesPerMinute: 5, autoAssign: false, createdAt: T0 };
  await writeBatch(f.sql, 13, [
    entry('1000-0', 'account.created', accountId, T0 - 10, { id: accountId, name: 'Late Co', createdAt: T0 - 10 }),
    entry('1000-1', 'inbox.created', accountId, T0 - 5, inbox),
  ]);
  t.same(await f.sql`select name from accounts where id = ${accountId}`, [{ name: 'Late Co' }]);
  t.same(await f.sql`select name, website_token, auto_assign from inboxes where id = ${inboxId}`, [{ name: 'Mail', website_token: `${accountId}.tok`, auto_assign: false }]);
  t.same(await f.sql`select name, role, max_conversations from agents where id = ${agentId}`, [{ name: 'Bo', role: 'administrator', max_conversations: 3 }]);
});

t.test('a conversation row only moves forward: an older event committed later changes nothing', async (t) => {
  const conv = await f.open(T0 + 100_000);
  await f.send(conv.id, T0 + 101_000);
  await f.send(conv.id, T0 + 102_000, { senderType: 'agent' });
  await f.setStatus(conv.id, 'resolved', T0 + 103_000);
  const all = (await f.entries()).filter((e) => e.fields.join(' ').includes(conv.id));
  const half = Math.floor(all.length / 2);
  await writeBatch(f.sql, f.partition, all.slice(half)); // the newer half first (another archiver)
  const [after] = await f.sql`select status, waiting_since, first_reply_created_at from conversations where id = ${conv.id}`;
  t.equal(after?.['status'], 'resolved');
  await writeBatch(f.sql, f.partition, all.slice(0, half)); // then the older half
  const [row] = await f.sql`select status, updated_at, first_reply_created_at from conversations where id = ${conv.id}`;
  t.equal(row?.['status'], 'resolved', 'still the newest state');
  t.equal((row?.['updated_at'] as Date).getTime(), T0 + 103_000);
  t.equal((row?.['first_reply_created_at'] as Date).getTime(), T0 + 102_000);
  t.equal(await f.count('messages', f.sql`conversation_id = ${conv.id}`), 3, 'contact message, reply, resolve activity');
});

t.test("a message moves the row's last_activity_at by its brief; an older brief committed later changes nothing", async (t) => {
  const conv = await f.open(T0 + 200_000);
  const contactSends = [await f.send(conv.id, T0 + 201_000), await f.send(conv.id, T0 + 205_000, { brief: true })];
  t.equal(contactSends.length, 2);
  const mine = (await f.entries()).filter((e) => e.fields.join(' ').includes(conv.id));
  const created = mine.filter((e) => e.fields[1] === 'message.created');
  t.equal(created.length, 2);
  for (const e of created) {
    const d = JSON.parse(String(e.fields[e.fields.indexOf('d') + 1])) as { conversation: Record<string, unknown> };
    t.match(d.conversation, { partial: true, id: conv.id, inboxId: String, createdAt: Number, lastActivityAt: Number }, 'the event carries the brief')
    t.notOk('customAttributes' in d.conversation, 'not the whole view')
  }
  await writeBatch(f.sql, f.partition, mine.filter((e) => e !== created[0])); // the newest brief first
  const at = async () => ((await f.sql`select last_activity_at from conversations where id = ${conv.id}`)[0]?.['last_activity_at'] as Date).getTime();
  t.equal(await at(), T0 + 205_000);
  await writeBatch(f.sql, f.partition, [created[0]!]); // then the older one (another archiver)
  t.equal(await at(), T0 + 205_000, 'still the newest');
  t.equal(await f.count('messages', f.sql`conversation_id = ${conv.id}`), 2);
});

t.test('a contact update is kept over an older created event; seen times only grow', async (t) => {
  const contact = await f.directory.createContact(f.account.id, f.inbox.id, 'cust-42');
  const created = (await f.entries()).filter((e) => e.fields.includes('contact.created')).pop() as RawEntry;
  const updated = entry('9999999999999-0', 'contact.updated', f.account.id, Date.now() + 1000, { ...contact, name: 'Eve', email: 'eve@x.test', changed: ['name', 'email'] });
  await writeBatch(f.sql, f.partition, [updated]);
  await writeBatch(f.sql, f.partition, [created]);
  t.same(await f.sql`select name, email, identifier, verified from contacts where id = ${contact.id}`, [{ name: 'Eve', email: 'eve@x.test', identifier: 'cust-42', verified: true }]);
  const conv = { id: newId('cv'), displayId: 900, accountId: f.account.id, inboxId: f.inbox.id, contactId: contact.id, status: 'open', createdAt: T0, lastActivityAt: T0 };
  const seen = (at: number, id: string) => entry(id, 'conversation.seen', f.account.id, at, { conversation: conv, viewer: { type: 'contact', id: contact.id }, seenAt: at });
  await writeBatch(f.sql, f.partition, [seen(T0 + 5000, '9999999999999-1'), seen(T0 + 2000, '9999999999999-2')]);
  await writeBatch(f.sql, f.partition, [seen(T0 + 1000, '9999999999999-3')]);
  const [row] = await f.sql`select last_seen_at from contacts where id = ${contact.id}`;
  t.equal((row?.['last_seen_at'] as Date).getTime(), T0 + 5000);
});

t.test('malformed entries and refused rows go to dead letters; the rest of the batch lands', async (t) => {
  const conv = await f.open(T0 + 200_000);
  await f.send(conv.id, T0 + 201_000);
  const good = (await f.entries()).filter((e) => e.fields.join(' ').includes(conv.id));
  const badMessage = {
    message: { id: '5-0', uid: newUid(), conversationId: conv.id, accountId: f.account.id, inboxId: f.inbox.id, type: 'bogus', createdAt: T0, sender: { type: 'contact', id: 'x' } },
    conversation: { ...conv, updatedAt: undefined },
  };
  const batch: RawEntry[] = [
    { id: '4-0', fields: ['garbage', 'x'] },
    entry('4-1', 'message.created', f.account.id, T0, { message: { id: '1-0' } }), // no uid
    entry('4-2', 'message.created', f.account.id, T0, badMessage), // a CHECK constraint refuses it
    entry('4-3', 'message.created', f.account.id, T0 + 1, { ...badMessage, message: { ...badMessage.message, type: 'incoming', uid: newUid(), content: 'nul\u0000byte' } }),
    entry('4-4', 'presence.updated', f.account.id, T0, {}), // not archived, acknowledged
    ...good,
  ];
  const r = await writeBatch(f.sql, 11, batch);
  t.same(r.deadLetters.map((d) => d.id).sort(), ['4-0', '4-1', '4-2']);
  t.equal(r.ignored, 1);
  t.equal(await f.count('archiver_dead_letters', f.sql`partition = 11`), 3);
  const [dl] = await f.sql`select event_type, fields, error from archiver_dead_letters where stream_id = '4-2'`;
  t.equal(dl?.['event_type'], 'message.created');
  t.match(dl?.['error'], /check constraint/);
  t.equal((dl?.['fields'] as Record<string, string>)['t'], 'message.created', 'the entry is kept whole');
  t.equal(await f.count('messages', f.sql`conversation_id = ${conv.id}`), 2, 'the good message and the NUL one landed');
  t.same(await f.sql`select content from messages where stream_id = '1-0' or content like 'nul%'`, [{ content: 'nul\uFFFDbyte' }]);
  const again = await writeBatch(f.sql, 11, batch);
  t.equal(again.rows.archiver_dead_letters, undefined, 'a replay dead-letters nothing twice');
  t.equal(await f.count('archiver_dead_letters', f.sql`partition = 11`), 3);
});

t.test('the checkpoint only moves forward (several archivers commit out of order)', async (t) => {
  await writeBatch(f.sql, 12, [entry('10-0', 'presence.updated', 'a', T0, {})]);
  await writeBatch(f.sql, 12, [entry('9-0', 'presence.updated', 'a', T0, {})]);
  t.same(await f.sql`select last_id from archiver_checkpoints where partition = 12`, [{ last_id: '10-0' }]);
  await writeBatch(f.sql, 12, [entry('10-1', 'presence.updated', 'a', T0, {})]);
  t.same(await f.sql`select last_id from archiver_checkpoints where partition = 12`, [{ last_id: '10-1' }]);
});

t.test('agent availability and inbox auto-resolve updates: the newest wins, whatever the commit order', async (t) => {
  const accountId = f.account.id;
  const agentId = newId('ag');
  const inboxId = newId('in');
  const created = entry('7000-0', 'agent.created', accountId, T0, { id: agentId, accountId, name: 'Cy', role: 'agent', availability: 'online', inboxIds: [], maxConversations: null });
  const busy = entry('7000-5', 'agent.updated', accountId, T0 + 50, { agent: { id: agentId, accountId, online: true, availability: 'busy' } });
  const offline = entry('7000-3', 'agent.updated', accountId, T0 + 30, { agent: { id: agentId, accountId, online: false, availability: 'offline' } });
  await writeBatch(f.sql, 14, [busy]);
  await writeBatch(f.sql, 14, [created, offline]);
  t.same(await f.sql`select name, availability from agents where id = ${agentId}`, [{ name: 'Cy', availability: 'busy' }]);

  const setting = (id: string, ts: number, ms: number | null) => entry(id, 'inbox.updated', accountId, ts, { id: inboxId, accountId, autoResolveAfterMs: ms });
  await writeBatch(f.sql, 14, [setting('7001-2', T0 + 20, 3_600_000)]);
  await writeBatch(f.sql, 14, [setting('7001-1', T0 + 10, null)]);
  const inbox = { id: inboxId, accountId, name: 'Late', websiteToken: `${accountId}.late`, allowedOrigins: [], messagesPerMinute: 10, autoAssign: true, createdAt: T0 };
  await writeBatch(f.sql, 14, [entry('7001-0', 'inbox.created', accountId, T0, inbox)]);
  t.same(await f.sql`select name, auto_resolve_after_ms from inboxes where id = ${inboxId}`, [{ name: 'Late', auto_resolve_after_ms: '3600000' }]);
  await writeBatch(f.sql, 14, [setting('7001-3', T0 + 30, null)]);
  t.same(await f.sql`select auto_resolve_after_ms from inboxes where id = ${inboxId}`, [{ auto_resolve_after_ms: null }]);
});

t.test('admin changes: agent profile and inboxes, removal, inbox settings; newest wins whatever the commit order', async (t) => {
  const accountId = newId('a');
  const [in1, in2, in3] = [newId('in'), newId('in'), newId('in')];
  const agentId = newId('ag');
  const inboxEvent = (id: string, name: string) => ({ id, accountId, name, websiteToken: `${id}.tok`, allowedOrigins: [], messagesPerMinute: 5, autoAssign: true, createdAt: T0 });
  await writeBatch(f.sql, 14, [
    entry('1-0', 'account.created', accountId, T0, { id: accountId, name: 'Co', createdAt: T0 }),
    entry('1-1', 'inbox.created', accountId, T0, inboxEvent(in1, 'One')),
    entry('1-2', 'inbox.created', accountId, T0, inboxEvent(in2, 'Two')),
  ]);
  const created = { id: agentId, accountId, name: 'Bo', role: 'agent', availability: 'online', inboxIds: [in1, in2], maxConversations: null };
  const changed = { agent: { ...created, name: 'Bea', role: 'administrator', inboxIds: [in2, in3], maxConversations: 4 }, changed: ['name', 'role', 'inboxIds', 'maxConversations'] };
  // the change commits first (another archiver holds the creation), then the creation
  await writeBatch(f.sql, 14, [entry('3-0', 'agent.updated', accountId, T0 + 20, changed)]);
  await writeBatch(f.sql, 14, [entry('2-0', 'agent.created', accountId, T0 + 10, created)]);
  t.same(await f.sql`select name, role, max_conversations from agents where id = ${agentId}`, [{ name: 'Bea', role: 'administrator', max_conversations: 4 }], 'the older creation changes nothing');
  const members = async () => (await f.sql`select inbox_id from inbox_members where agent_id = ${agentId} order by inbox_id`).map((r) => r['inbox_id']);
  t.same(await members(), [in2, in3].sort(), 'the memberships as the change lists them, not the creation\'s');
  t.equal(await f.count('inboxes', f.sql`id = ${in3}`), 1, 'a placeholder for an inbox not archived yet');

  // an availability change does not touch the profile, nor the profile the availability
  await writeBatch(f.sql, 14, [entry('4-0', 'agent.updated', accountId, T0 + 30, { agent: { id: agentId, accountId, availability: 'busy', online: true } })]);
  t.same(await f.sql`select name, availability from agents where id = ${agentId}`, [{ name: 'Bea', availability: 'busy' }]);
  // an older profile change committed late changes nothing
  await writeBatch(f.sql, 14, [entry('2-5', 'agent.updated', accountId, T0 + 15, { ...changed, agent: { ...changed.agent, name: 'Old', inboxIds: [in1] } })]);
  t.same(await f.sql`select name from agents where id = ${agentId}`, [{ name: 'Bea' }]);
  t.same(await members(), [in2, in3].sort());

  await writeBatch(f.sql, 14, [entry('5-0', 'agent.removed', accountId, T0 + 40, { id: agentId, accountId })]);
  const [row] = await f.sql`select removed_at, name from agents where id = ${agentId}`;
  t.equal((row?.['removed_at'] as Date).getTime(), T0 + 40, 'removed, the row kept');
  t.same(await members(), [], 'no memberships after removal');
  await writeBatch(f.sql, 14, [entry('2-0', 'agent.created', accountId, T0 + 10, created)]);
  t.same(await members(), [], 'a replayed creation does not bring them back');

  // inbox settings: the change wins over a creation committed after it
  const inboxChange = { ...inboxEvent(in3, 'Three'), allowedOrigins: ['https://x.test'], messagesPerMinute: 9, autoAssign: false, changed: ['name', 'allowedOrigins', 'messagesPerMinute', 'autoAssign'] };
  await writeBatch(f.sql, 14, [entry('6-0', 'inbox.updated', accountId, T0 + 50, inboxChange)]);
  await writeBatch(f.sql, 14, [entry('1-3', 'inbox.created', accountId, T0, inboxEvent(in3, 'Drei'))]);
  t.same(await f.sql`select name, website_token, allowed_origins, messages_per_minute, auto_assign from inboxes where id = ${in3}`,
    [{ name: 'Three', website_token: `${in3}.tok`, allowed_origins: ['https://x.test'], messages_per_minute: 9, auto_assign: false }],
    'the creation fills the token in, the change keeps its settings');
  t.equal(await f.count('archiver_dead_letters', f.sql`partition = 14`), 0);
});

t.test('an event type the archiver does not know: its conversation is kept, the rest acknowledged', async (t) => {
  const conv = { id: newId('cv'), displayId: 901, accountId: f.account.id, inboxId: f.inbox.id, contactId: f.contact.id, status: 'open', assigneeId: f.agent.id, createdAt: T0, lastActivityAt: T0 + 5 };
  const r = await writeBatch(f.sql, 14, [
    entry('7002-0', 'conversation.assigned', f.account.id, T0 + 5, { conversation: conv, changed: ['assigneeId'] }),
    entry('7002-1', 'typing.started', f.account.id, T0 + 6, { conversationId: conv.id }),
  ]);
  t.equal(r.ignored, 1);
  t.same(await f.sql`select assignee_id from conversations where id = ${conv.id}`, [{ assignee_id: f.agent.id }]);
});
