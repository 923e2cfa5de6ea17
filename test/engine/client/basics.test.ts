// The SDK against a real engine: connect, synced, typed requests, send with an echoId, events
// merged into the held view, history, seen/typing helpers, msgpack, and close.
import t from 'tap'
import { next, sdkStack, until, ids } from './fixture.js'

t.test('a widget and an agent talk through the SDK', async (t) => {
  const s = await sdkStack(t)
  const agent = s.agent()
  const widget = s.widget()
  const states: string[] = []
  widget.on('state', ({ state }) => states.push(state))
  await Promise.all([agent.whenSynced(), widget.whenSynced()])
  t.equal(widget.state, 'open')
  t.same(states, ['open'], 'connecting → open')
  t.match(widget.contact(), { id: /^ct_/ })
  t.type(widget.session(), 'string')
  const pong = await agent.request('ping')
  t.type(pong.serverTime, 'number', 'request resolves with the reply data')

  const conv = await widget.openConversation({ browser: 'tap' })
  t.match(conv, { id: /^cv_/, status: 'open' })
  const heard = next(agent, 'message.created', (d) => d.message.content === 'hello')
  const m = await widget.send(conv.id, 'hello')
  t.match(m, { id: /^\d+-\d+$/, content: 'hello', type: 'incoming', echoId: /^e_/ })
  t.same(ids(widget.messages(conv.id)).includes(m.id), true, 'the acknowledged message is held')
  const ev = await heard
  t.equal(ev.message.id, m.id, 'the agent hears it')
  t.equal(widget.outbox().length, 0, 'nothing left in the outbox')

  await agent.get(conv.id)
  await agent.history(conv.id)
  const reply = await agent.send(conv.id, 'hi there')
  await until(() => widget.messages(conv.id).some((x) => x.id === reply.id), 5000, 'the widget to hold the reply')
  t.same(ids(widget.messages(conv.id)), ids(await s.serverHistory(conv.id)).filter((id) => widget.messages(conv.id).some((x) => x.id === id)), 'ordered')
  t.same(ids(agent.messages(conv.id)), ids(await s.serverHistory(conv.id)), 'the agent holds the whole history, in order')

  const typing = next(agent, 'typing', (d) => d.conversationId === conv.id && d.on === true)
  await widget.typing(conv.id, true)
  t.match(await typing, { sender: { type: 'contact' } })
  const seen = await agent.markSeen(conv.id)
  t.type(seen.agentLastSeenAt, 'number')

  const err = await agent.request('conversation.get', { conversationId: 'cv_nope' }).catch((e: unknown) => e)
  t.match(err, { name: 'ParleyError', code: 'not_found' }, 'a rejected request carries the code')
  const assigned = await agent.assign(conv.id, agent.me()?.id ?? null)
  t.equal(assigned.assigneeId, agent.me()?.id)
  await until(() => widget.conversation(conv.id)?.assigneeId === agent.me()?.id, 5000, 'the widget to see the assignee')
  agent.forget(conv.id)
  t.equal(agent.conversation(conv.id), null, 'forget drops a held conversation')
  t.same(agent.messages(conv.id), [])
  const viaWs = s.agent({ url: s.engine.ws })
  await viaWs.whenSynced()
  t.equal(viaWs.me()?.id, agent.me()?.id, 'the ws:// form of the base URL works too')
  widget.close()
  t.equal(widget.state, 'closed')
  const late = await widget.send(conv.id, 'after close').catch((e: unknown) => e)
  t.match(late, { code: 'closed' })
})

t.test('msgpack codec', async (t) => {
  const s = await sdkStack(t)
  const widget = s.widget({ codec: 'msgpack' })
  await widget.whenSynced()
  const conv = await widget.openConversation()
  const m = await widget.send(conv.id, 'packed ✓')
  t.equal(m.content, 'packed ✓')
})
