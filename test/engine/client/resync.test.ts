// Changes made by others while an agent client was away — assignment, status, rating, seen times,
// read receipts, presence, a new conversation, new messages — are in its view after `synced`, and
// were told to the app as the events they stand for, before `synced`.
import t from 'tap'
import { createAgentClient } from 'parley/client'
import { startProxy } from '../../helpers/tcp-proxy.js'
import { FAST, next, sdkStack } from './fixture.js'

t.test('an agent away while others change things is current after synced', async (t) => {
  const s = await sdkStack(t, { agents: 2 })
  const proxy = await startProxy(t, s.engine.port)
  const x = s.agent({ url: proxy.url })
  const y = createAgentClient({ url: s.engine.http, token: s.tenant.agents[1]?.token ?? '', ...FAST })
  t.teardown(() => y.close())
  const widget = s.widget()
  await Promise.all([x.whenSynced(), y.whenSynced(), widget.whenSynced()])
  const conv = await widget.openConversation()
  await widget.send(conv.id, 'hello?')
  await x.list({ status: 'open' })
  await x.get(conv.id)
  await x.history(conv.id)
  const mine = await x.send(conv.id, 'hi, X here')
  await x.agents()
  t.equal(x.conversation(conv.id)?.status, 'open')

  // X goes away
  const away = next(x, 'state', (d) => d.state === 'reconnecting')
  proxy.target = null
  proxy.drop()
  await away

  const yId = s.tenant.agents[1]?.agent['id'] as string
  await y.assign(conv.id, yId)
  await widget.send(conv.id, 'are you there?')
  await widget.markSeen(conv.id)
  await y.send(conv.id, 'Y here, solved it')
  await y.setStatus(conv.id, 'resolved')
  await widget.rate(conv.id, 4, 'quick')
  await y.setPresence('busy')
  const other = s.widget()
  await other.whenSynced()
  const second = await other.openConversation()

  const told: { type: string; data: any }[] = [] // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const type of ['message.created', 'message.updated', 'conversation.created', 'conversation.updated', 'presence.updated', 'synced'] as const) {
    x.on(type, (data: unknown) => told.push({ type, data }))
  }
  const synced = next(x, 'synced', (d) => d.reconnect === true)
  proxy.target = s.engine.port
  await synced

  const truth = await y.request('conversation.get', { conversationId: conv.id })
  t.same(x.conversation(conv.id), truth.conversation, 'the conversation is exactly what the server holds')
  t.match(x.conversation(conv.id), { status: 'resolved', assigneeId: yId, rating: { score: 4, comment: 'quick' } })
  const serverIds = (await s.serverHistory(conv.id)).map((m) => m['id'])
  t.same(x.messages(conv.id).map((m) => m.id), serverIds, 'messages: the server history, in order')
  t.equal(x.messages(conv.id).find((m) => m.id === mine.id)?.status, 'read', 'the contact read X\'s message while X was away')
  t.ok(x.conversation(second.id), 'the conversation created while away is held')

  const types = told.map((e) => e.type)
  const syncedAt = types.indexOf('synced')
  t.ok(syncedAt > 0 && types.slice(syncedAt + 1).every((ty) => ty !== 'synced'), 'changes are told before synced')
  const before = told.slice(0, syncedAt)
  const updated = before.find((e) => e.type === 'conversation.updated' && e.data.conversation.id === conv.id)
  t.ok(updated, 'conversation.updated for the conversation changed while away')
  t.ok(['status', 'assigneeId', 'rating'].every((f) => (updated?.data.changed as string[]).includes(f)), 'changed names the status, the assignee and the rating')
  t.ok(before.some((e) => e.type === 'conversation.created' && e.data.conversation.id === second.id), 'conversation.created for the new one')
  t.ok(before.some((e) => e.type === 'message.updated' && e.data.message.id === mine.id && e.data.message.status === 'read'), 'message.updated for the read receipt')
  t.ok(before.some((e) => e.type === 'presence.updated' && e.data.agent?.id === yId && e.data.agent.availability === 'busy'), 'presence.updated for Y going busy')
  const created = before.filter((e) => e.type === 'message.created').map((e) => e.data.message.content as string)
  t.ok(created.includes('are you there?') && created.includes('Y here, solved it'), 'the messages written while away are told')
  t.ok(created.some((c) => /resolved/i.test(c)) && created.some((c) => /assigned/i.test(c)), 'and the activity messages')
})

t.test('a widget away while its conversation is resolved sees the status after synced', async (t) => {
  const s = await sdkStack(t)
  const proxy = await startProxy(t, s.engine.port)
  const widget = s.widget({ url: proxy.url })
  const agent = s.agent()
  await Promise.all([widget.whenSynced(), agent.whenSynced()])
  const conv = await widget.openConversation()
  await widget.send(conv.id, 'help')
  const away = next(widget, 'state', (d) => d.state === 'reconnecting')
  proxy.target = null
  proxy.drop()
  await away
  await agent.send(conv.id, 'done, bye')
  await agent.setStatus(conv.id, 'resolved')
  const updated = next(widget, 'conversation.updated', (d) => d.conversation.id === conv.id)
  const synced = next(widget, 'synced', (d) => d.reconnect === true)
  proxy.target = s.engine.port
  t.ok(((await updated).changed as string[]).includes('status'), 'changed names the status')
  await synced
  t.equal(widget.conversation(conv.id)?.status, 'resolved', 'resolved while away (hello.conversation no longer names it)')
  t.ok(widget.messages(conv.id).some((m) => m.content === 'done, bye'), 'the reply written while away is held')
})
