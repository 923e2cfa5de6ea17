// redis-server killed with SIGKILL in the middle of a chat and started again on its data folder
// (AOF, appendfsync everysec): every acknowledged message is still there (a process crash loses
// nothing acknowledged: Redis writes the AOF before it answers), the engine comes back by itself,
// its scripts load again (the new process has an empty script cache: NOSCRIPT → EVAL), fan-out
// resumes, and clients that stayed connected catch up with `resume`.
import { startCrashableRedis } from '../helpers/stack.js'
import t from 'tap'
import { createTenant, type Json } from '../helpers/admin.js'
import type { Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { agentAndWidget, eventually } from './fixture.js'

t.test('Redis SIGKILLed mid-chat: acknowledged messages survive, the engine and fan-out come back', async (t) => {
  const redis = await startCrashableRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '10000', OPS_PER_SECOND: '100000' } })
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false } })
  const { agent, widget } = await agentAndWidget(t, engine, tenant)
  const ok = async (c: Client, op: string, params: Json): Promise<Json> => {
    const r = await c.request(op, params)
    if (r['ok'] !== true) throw new Error(`${op}: ${JSON.stringify(r)}`)
    return r['data'] as Json
  }
  const conversationId = (await ok(widget, 'conversation.open', {}))['conversation']['id'] as string
  const acked: string[] = []
  for (let i = 0; i < 40; i++) {
    acked.push((await ok(i % 2 === 0 ? widget : agent, 'message.send', { conversationId, content: `before ${i}`, echoId: `b${i}` }))['message']['id'] as string)
  }

  await redis.crash()
  // while Redis is down: a clear error, the sockets stay open
  const during = await widget.request('message.send', { conversationId, content: 'during the outage', echoId: 'd0' })
  t.match(during, { ok: false, error: { code: 'unavailable' } }, 'unavailable, not a hang or a crash')
  t.equal((await fetch(`${engine.http}/healthz`)).status, 200, 'the engine stays up')

  await redis.restart()
  await eventually(async () => ((await fetch(`${engine.http}/readyz`)).status === 200 ? true : undefined), 15_000)
  const history = await ok(agent, 'history', { conversationId, limit: 100 })
  const ids = (history['messages'] as Json[]).filter((m) => m['type'] !== 'activity').map((m) => m['id'])
  t.same(ids, acked, 'every acknowledged message, in order, after the crash')

  // scripts reload by themselves (NOSCRIPT → EVAL) and fan-out reaches the other side again (that
  // nothing published meanwhile is missed live is test/e2e/fanout-gap.test.ts)
  const after: string[] = []
  await eventually(async () => {
    const content = `after the restart ${after.length}`
    const r = await widget.request('message.send', { conversationId, content, echoId: `a${after.length}` })
    if (r['ok'] !== true) return undefined
    after.push(content)
    const id = (r['data'] as Json)['message']['id'] as string
    return agent.waitFor((f) => f['type'] === 'message.created' && f['data']['message']['id'] === id, 1000).then(() => true, () => undefined)
  }, 15_000)
  t.pass('the agent gets new messages live again')
  const resent = await ok(widget, 'message.send', { conversationId, content: 'during the outage', echoId: 'd0' })
  t.not(resent['message']['id'], undefined, 'the message refused during the outage goes through when sent again')
  const resumed = await ok(agent, 'resume', { conversationId, after: acked.at(-1) })
  t.same((resumed['messages'] as Json[]).filter((m) => m['type'] !== 'activity').map((m) => m['content']), [...after, 'during the outage'],
    'resume from the last id before the crash: exactly what came after')
})
