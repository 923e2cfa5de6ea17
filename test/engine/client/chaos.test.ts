// SDK-level chaos: the engine node that a widget client and an agent client use is killed with
// SIGKILL mid-conversation, with sends in flight and more sends during the outage; the clients come
// back through the same address, now served by the second node. Afterwards both clients hold
// exactly the server's history (no gap, no duplicate, same order), every send is on the server once,
// and each client told its app every message once, in order.
import t from 'tap'
import type { Message } from 'parley/client'
import { startProxy } from '../../helpers/tcp-proxy.js'
import { ids, next, sdkStack, until } from './fixture.js'

const strictlyIncreasing = (xs: string[]) => xs.every((x, i) => i === 0 || cmp(xs[i - 1] as string, x) < 0)
function cmp(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint]
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint]
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1
}

t.test('kill -9 of the node mid-conversation, sends in flight and during the outage', async (t) => {
  const s = await sdkStack(t, { nodes: 2 })
  const [a, b] = s.engines as [typeof s.engine, typeof s.engine]
  const proxy = await startProxy(t, a.port)
  const widget = s.widget({ url: proxy.url })
  const agent = s.agent({ url: proxy.url })
  await Promise.all([widget.whenSynced(), agent.whenSynced()])
  const conv = await widget.openConversation()
  await agent.get(conv.id)
  await agent.history(conv.id)
  const told = { widget: [] as string[], agent: [] as string[] }
  widget.on('message.created', ({ message }) => message.conversationId === conv.id && told.widget.push(message.id))
  agent.on('message.created', ({ message }) => message.conversationId === conv.id && told.agent.push(message.id))
  const errors: unknown[] = []
  widget.on('error', (e) => errors.push(e))
  agent.on('error', (e) => errors.push(e))

  for (let i = 0; i < 10; i++) {
    await widget.send(conv.id, `w${i}`)
    await agent.send(conv.id, `a${i}`)
  }
  const sends: Promise<Message>[] = []
  const contents: string[] = []
  const send = (c: typeof widget | typeof agent, content: string) => {
    contents.push(content)
    sends.push(c.send(conv.id, content))
  }
  const down = Promise.all([next(widget, 'state', (d) => d.state === 'reconnecting'), next(agent, 'state', (d) => d.state === 'reconnecting')])
  for (let i = 0; i < 5; i++) {
    send(widget, `in flight w${i}`)
    send(agent, `in flight a${i}`)
  }
  await a.kill() // SIGKILL, no goodbye
  proxy.target = null
  await down
  for (let i = 0; i < 5; i++) {
    send(widget, `outage w${i}`)
    send(agent, `outage a${i}`)
  }
  t.ok(widget.outbox().length >= 5 && agent.outbox().length >= 5, 'sends made during the outage wait in the outboxes')
  await new Promise((r) => setTimeout(r, 600)) // a few refused reconnects
  const back = Promise.all([next(widget, 'synced', (d) => d.reconnect === true, 20_000), next(agent, 'synced', (d) => d.reconnect === true, 20_000)])
  proxy.target = b.port
  await back
  const acked = await Promise.all(sends)
  t.equal(acked.length, 20, 'every send is acknowledged')
  t.same(widget.outbox(), [], 'the widget outbox is empty')
  t.same(agent.outbox(), [], 'the agent outbox is empty')

  const server = await s.serverHistory(conv.id, b.ws)
  const onServer = server.map((m) => m['content'] as string)
  for (const c of [...contents, ...Array.from({ length: 10 }, (_, i) => [`w${i}`, `a${i}`]).flat()]) {
    t.equal(onServer.filter((x) => x === c).length, 1, `"${c}" is on the server once`)
  }
  t.equal(new Set(ids(server)).size, server.length, 'no duplicate ids on the server')
  const last = server[server.length - 1]?.['id']
  await until(() => agent.messages(conv.id).length === server.length && widget.messages(conv.id).length === server.length &&
    told.agent[told.agent.length - 1] === last && told.widget[told.widget.length - 1] === last, 10_000, 'both clients to catch up')
  const view = (ms: readonly { id?: unknown; content?: unknown; type?: unknown }[]) => ms.map((m) => `${String(m.id)} ${String(m.type)} ${String(m.content)}`)
  t.same(view(agent.messages(conv.id)), view(server), 'the agent holds exactly the server history')
  t.same(view(widget.messages(conv.id)), view(server), 'the widget holds exactly the server history')
  for (const [who, list] of Object.entries(told)) {
    t.ok(strictlyIncreasing(list), `${who}: every message told once, in order`)
    const start = ids(server).indexOf(list[0] as string)
    t.same(list, ids(server).slice(start), `${who}: no gap in what the app was told`)
  }
  t.same(errors, [], 'no error events')
  t.ok(proxy.connections >= 4, `clients reconnected through the proxy (${proxy.connections} connections)`)
})
