import t from 'tap'
import { connect } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { e2eStack, eventually, urls } from './fixture.js'

const WOKE = 'Conversation was reopened (snooze ended)'

t.test('a snooze due while no engine runs fires once on the next engine', async (t) => {
  const s = await e2eStack(t, { SCHEDULER_MS: '50' })
  const agent = await s.agent()
  const { conversation } = await s.visitorWithConversation()
  const id = conversation['id'] as string
  const until = Date.now() + 1500
  t.match(await agent.request('conversation.status', { conversationId: id, status: 'snoozed', snoozedUntil: until }), { ok: true })
  await agent.close()
  t.equal(await s.engine.stop(), 0, 'the first engine stops cleanly')

  const next = await startEngine(t, { redisUrl: s.server.url, env: { SCHEDULER_MS: '50' } })
  const watcher = s.track(await connect(urls(next, s.tenant).agent()))
  const reopened = await eventually(async () => {
    const r = await watcher.request('conversation.get', { conversationId: id })
    return r['data']['conversation']['status'] === 'open' ? (r['data']['conversation'] as Record<string, unknown>) : undefined
  })
  t.ok(Date.now() >= until, 'not before its time')
  t.match(reopened, { status: 'open', snoozedUntil: null })
  await new Promise((r) => setTimeout(r, 200)) // a few more scheduler ticks
  const history = await watcher.request('history', { conversationId: id })
  t.equal((history['data']['messages'] as Record<string, unknown>[]).filter((m) => m['content'] === WOKE).length, 1, 'one activity message')
  t.equal(await s.redis.zscore(s.k.snoozed, id), null, 'off the schedule')
  await next.stop()
})

t.test('two engines racing fire each snooze exactly once', async (t) => {
  const s = await e2eStack(t, { SCHEDULER_MS: '100' })
  const second = await startEngine(t, { redisUrl: s.server.url, env: { SCHEDULER_MS: '100' } })
  const agent = await s.agent()
  const watcher = s.track(await connect(urls(second, s.tenant).agent()))
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push((await s.visitorWithConversation()).conversation['id'] as string)
  const until = Date.now() + 300
  for (const id of ids) {
    t.match(await agent.request('conversation.status', { conversationId: id, status: 'snoozed', snoozedUntil: until }), { ok: true })
  }
  await eventually(async () => ((await s.redis.zcard(s.k.snoozed)) === 0 ? true : undefined))
  await new Promise((r) => setTimeout(r, 150))
  for (const id of ids) {
    const history = await agent.request('history', { conversationId: id })
    t.equal((history['data']['messages'] as Record<string, unknown>[]).filter((m) => m['content'] === WOKE).length, 1, `${id}: one activity`)
  }
  const woke = (f: Record<string, unknown>) => f['type'] === 'message.created' && (f['data'] as Record<string, any>)['message']['content'] === WOKE // eslint-disable-line @typescript-eslint/no-explicit-any
  t.equal(agent.frames.filter(woke).length, 5, 'an agent on the first node got each wake-up once')
  t.equal(watcher.frames.filter(woke).length, 5, 'an agent on the second node too')
})
