// Bad input to the SDK: clear errors at once for missing or malformed options, rejected sends that
// never enter the outbox, and an app's throwing event handler reported as `error`, never thrown
// into the SDK (the client keeps working).
import t from 'tap'
import { createAgentClient, createWidgetClient, memoryStorage, type WidgetOptions } from 'parley/client'
import { next, sdkStack } from './fixture.js'

t.test('options are checked when the client is created', async (t) => {
  const w = (o: unknown) => () => createWidgetClient(o as WidgetOptions)
  t.throws(w(undefined), /options are required/)
  t.throws(w({ websiteToken: 'x' }), /`url` is required/)
  t.throws(w({ url: '', websiteToken: 'x' }), /`url` is required/)
  t.throws(w({ url: 'not a url', websiteToken: 'x' }), /`url` is not a URL/)
  t.throws(w({ url: 'ftp://x', websiteToken: 'x' }), /must be http\(s\):\/\/ or ws\(s\):\/\//)
  t.throws(w({ url: 'http://127.0.0.1:1' }), /`websiteToken` is required/)
  t.throws(w({ url: 'http://127.0.0.1:1', websiteToken: 'x', identifier: 'me' }), /go together/)
  t.throws(w({ url: 'http://127.0.0.1:1', websiteToken: 'x', storage: {} }), /getItem, setItem and removeItem/)
  t.throws(w({ url: 'http://127.0.0.1:1', websiteToken: 'x', codec: 'xml' }), /`codec` must be/)
  t.throws(w({ url: 'http://127.0.0.1:1', websiteToken: 'x', pingIntervalMs: -1 }), /positive number/)
  t.throws(w({ url: 'http://127.0.0.1:1', websiteToken: 'x', backoff: { baseMs: 0 } }), /backoff/)
  t.throws(w({ url: 'http://127.0.0.1:1', websiteToken: 'x', WebSocket: 'nope' }), /WebSocket constructor/)
  t.throws(() => createAgentClient({ url: 'http://127.0.0.1:1' } as never), /`token` is required/)
  t.throws(() => createAgentClient({ url: 'http://127.0.0.1:1', token: '' }), /`token` is required/)
})

t.test('bad calls are rejected at once and lose nothing', async (t) => {
  const s = await sdkStack(t)
  const storage = memoryStorage()
  const widget = s.widget({ storage })
  await widget.whenSynced()
  const conv = await widget.openConversation()
  const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code: string }) => e.code)
  t.equal(await code(widget.send(conv.id, '   ')), 'bad_request', 'blank content')
  t.equal(await code(widget.send(conv.id, 42 as never)), 'bad_request', 'content not a string')
  t.equal(await code(widget.send('', 'x')), 'bad_request', 'no conversation id')
  t.equal(await code(widget.send(conv.id, 'x'.repeat(150_001))), 'too_large', 'over maxContentChars')
  t.equal(await code(widget.send(conv.id, 'nul \u0000 inside')), 'bad_request', 'U+0000 (the engine refuses it)')
  t.equal(await code(widget.send(conv.id, 'half \uD83D pair')), 'bad_request', 'an unpaired high surrogate')
  t.equal(await code(widget.send(conv.id, '\uDE00 lone low')), 'bad_request', 'an unpaired low surrogate')
  t.equal(await code(widget.send(conv.id, 'x', { echoId: 'e'.repeat(129) })), 'bad_request', 'an echoId over 128 characters')
  t.equal(await code(widget.send(conv.id, 'x', { echoId: '' })), 'bad_request', 'an empty echoId')
  t.same(widget.outbox(), [], 'none of them entered the outbox')
  t.equal(await code(widget.send('cv_AAAAAAAAAAAAAAAAAAAAAA', 'to nowhere')), 'not_found', 'a server error surfaces with its code')
  t.same(widget.outbox(), [], 'and leaves the outbox')
  t.equal(await code(widget.request('agents.list' as never, {} as never)), 'forbidden', 'an op of the other role')
  t.equal(await code(widget.request('no.such.op' as never, {} as never)), 'bad_request', 'an unknown op')
  t.equal(await code(widget.request('history', null as never)), 'bad_request', 'params not an object')
  t.throws(() => widget.on('message.created', 'nope' as never), /must be a function/)
  const m = await widget.send(conv.id, 'still fine 😀')
  t.equal(m.content, 'still fine 😀', 'the client still works (a surrogate pair is text)')
})

t.test('a throwing handler becomes an error event; delivery goes on', async (t) => {
  const s = await sdkStack(t)
  const widget = s.widget()
  const agent = s.agent()
  await Promise.all([widget.whenSynced(), agent.whenSynced()])
  const conv = await widget.openConversation()
  await agent.get(conv.id)
  agent.on('message.created', () => {
    throw new Error('app bug')
  })
  agent.on('error', () => {
    throw new Error('the error handler is buggy too')
  })
  const errored = next(agent, 'error', (e) => e.code === 'handler')
  const second = next(agent, 'message.created', (d) => d.message.content === 'two')
  await widget.send(conv.id, 'one')
  const e = await errored
  t.match(e, { code: 'handler', message: /"message.created" handler threw: app bug/ })
  t.match(e.cause, { message: 'app bug' })
  await widget.send(conv.id, 'two')
  t.equal((await second).message.content, 'two', 'the next message is still delivered')
  t.equal(agent.state, 'open')
})
