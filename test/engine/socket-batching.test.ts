// Frames sent outside uWS handlers (fan-out, replies after an await) are queued per socket and
// written in one corked batch per turn: order and exactly-once must survive that, and a socket that
// closes while frames wait for it must simply be skipped.
import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

const BURST = 300

const created = (c: Client, convId: string) =>
  c.frames.filter((f) => f['op'] === 'event' && f['type'] === 'message.created' && f['data'].message.conversationId === convId)
    .map((f) => f['data'].message.id as string)

/** Stream ids in order: "ms-seq", compared numerically part by part. */
const ascending = (ids: string[]) => ids.every((id, i) => {
  if (i === 0) return true
  const [a1, a2] = (ids[i - 1] as string).split('-').map(Number) as [number, number]
  const [b1, b2] = id.split('-').map(Number) as [number, number]
  return b1 > a1 || (b1 === a1 && b2 > a2)
})

async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text()
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

t.test('socket batching', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { OPS_PER_SECOND: '100000' } })
  const tenant = await createTenant(engine.http, { agents: 12, inbox: { messagesPerMinute: 100000, autoAssign: false } })
  const agentUrl = (i: number) => `${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[i]?.token ?? '')}`
  const widgetUrl = `${engine.ws}/ws/widget?website_token=${encodeURIComponent(tenant.inbox['websiteToken'] as string)}`
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const track = (c: Client) => (clients.push(c), c)

  t.test('a burst reaches every socket once per frame, in stream order, in fewer writes than frames', async (t) => {
    const json = track(await connect(agentUrl(0)))
    const msgpack = track(await connect(agentUrl(1), { codec: 'msgpack' }))
    const widget = track(await connect(widgetUrl))
    const convId = (await widget.request('conversation.open'))['data'].conversation.id as string
    const framesBefore = await metric(engine.http, 'parley_frames_out_total')
    const batchesBefore = await metric(engine.http, 'parley_socket_batches_total')
    // pipelined: the widget does not wait for one reply before sending the next
    const replies = Array.from({ length: BURST }, (_, i) => widget.request('message.send', { conversationId: convId, content: `burst ${i}`, echoId: `b-${i}` }))
    const ids = (await Promise.all(replies)).map((r) => r['data'].message.id as string)
    t.equal(new Set(ids).size, BURST, 'every send got its own reply')
    const last = ids.slice().sort((a, b) => (ascending([a, b]) ? -1 : 1)).at(-1)
    for (const c of [json, msgpack, widget]) {
      await c.waitFor((f) => f['type'] === 'message.created' && f['data'].message.id === last, 10_000)
      const seen = created(c, convId)
      t.equal(seen.length, BURST, `${c.codec} ${c === widget ? 'widget' : 'agent'}: each message exactly once`)
      t.equal(new Set(seen).size, BURST, 'no duplicates')
      t.ok(ascending(seen), 'in stream order')
    }
    const frames = (await metric(engine.http, 'parley_frames_out_total')) - framesBefore
    const batches = (await metric(engine.http, 'parley_socket_batches_total')) - batchesBefore
    // 3 event copies and 1 reply per message, at least
    t.ok(frames >= BURST * 4, `${frames} frames out`)
    t.ok(batches < frames, `${frames} frames went out in ${batches} socket batches`)
  })

  t.test('sockets that close while frames wait for them are skipped; the others get everything', async (t) => {
    const steady = track(await connect(agentUrl(2)))
    const leaving: Client[] = []
    for (let i = 3; i < 12; i++) leaving.push(await connect(agentUrl(i), { codec: i % 2 === 0 ? 'json' : 'msgpack' }))
    const widget = track(await connect(widgetUrl))
    const convId = (await widget.request('conversation.open'))['data'].conversation.id as string
    const replies: Promise<Record<string, any>>[] = []
    for (let i = 0; i < BURST; i++) {
      replies.push(widget.request('message.send', { conversationId: convId, content: `churn ${i}` }))
      // drop the leaving agents at different points of the burst: abruptly, or with a close frame
      if (i % 30 === 15) {
        const c = leaving.pop()
        if (c !== undefined) {
          if (i % 60 === 15) c.ws.terminate()
          else c.ws.close()
        }
      }
    }
    const ids = (await Promise.all(replies)).map((r) => r['data'].message.id as string)
    const last = ids.slice().sort((a, b) => (ascending([a, b]) ? -1 : 1)).at(-1)
    await steady.waitFor((f) => f['type'] === 'message.created' && f['data'].message.id === last, 10_000)
    const seen = created(steady, convId)
    t.equal(seen.length, BURST, 'the steady agent got each message once')
    t.ok(ascending(seen), 'in stream order')
    t.same((await steady.request('ping'))['ok'], true, 'the node keeps serving')
    t.equal(engine.proc.exitCode, null, 'the engine is still running')
    t.notMatch(engine.output(), /"level":(50|60)/, 'no error was logged (no send to a closed socket)')
  })
})
