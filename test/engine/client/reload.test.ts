// A page reload: a new client on the same storage resumes the same contact (its session), re-sends
// the stored outbox once, and a stored send the server had already taken (its ack lost in the
// reload) is not written twice: the echoId answers with the first message.
import t from 'tap'
import { memoryStorage } from 'parley/client'
import { tag } from '../../../engine/client/storage.js'
import { startProxy } from '../../helpers/tcp-proxy.js'
import { next, sdkStack } from './fixture.js'

t.test('a new client on the same storage is the same contact and sends the outbox once', async (t) => {
  const s = await sdkStack(t)
  const proxy = await startProxy(t, s.engine.port)
  const storage = memoryStorage()
  const first = s.widget({ url: proxy.url, storage })
  await first.whenSynced()
  const contactId = first.contact()?.id
  const conv = await first.openConversation()
  const taken = await first.send(conv.id, 'taken before the reload')

  const away = next(first, 'state', (d) => d.state === 'reconnecting')
  proxy.target = null
  proxy.drop()
  await away
  const lost = [first.send(conv.id, 'pending one'), first.send(conv.id, 'pending two')]
  const rejected = Promise.all(lost.map((p) => p.then(() => 'resolved', (e: { code: string }) => e.code)))
  t.equal(first.outbox().length, 2, 'two sends wait in the outbox')
  first.close()
  t.same(await rejected, ['closed', 'closed'], 'closing rejects the waiting sends')

  // the ack of `taken` was "lost": its entry is back in storage, as if the page died before the reply
  const key = `parley:w:${tag(s.tenant.inbox['websiteToken'] as string)}:outbox`
  const stored = JSON.parse(storage.getItem(key) ?? '[]') as { echoId: string }[]
  t.equal(stored.length, 2, 'the outbox is in storage')
  storage.setItem(key, JSON.stringify([{ echoId: taken.echoId, conversationId: conv.id, content: 'taken before the reload', createdAt: 0 }, ...stored]))

  proxy.target = s.engine.port
  const second = s.widget({ url: proxy.url, storage })
  t.equal(second.outbox().length, 3, 'the new client starts with the stored outbox')
  await second.whenSynced()
  t.equal(second.contact()?.id, contactId, 'the same contact')
  t.equal(second.hello?.role === 'contact' ? second.hello.conversation?.id : null, conv.id, 'its open conversation')
  const deadline = Date.now() + 10_000
  while (second.outbox().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.same(second.outbox(), [], 'the outbox drained')
  t.equal(storage.getItem(key), null, 'and left storage')
  const contents = (await s.serverHistory(conv.id)).map((m) => m['content'])
  for (const c of ['taken before the reload', 'pending one', 'pending two']) t.equal(contents.filter((x) => x === c).length, 1, `"${c}" is on the server once`)
  t.ok(second.messages(conv.id).some((m) => m.content === 'pending two'), 'the re-sent messages are in the new client\'s view')
})
