// Dead links: a connection that stops carrying data without closing (a sleeping laptop, a NAT that
// forgot it) is found by the app-level ping and replaced; sends made meanwhile land once. And a
// browser's "page is back" signals (online, visible, focus) cut a long backoff short.
import t from 'tap'
import { startProxy } from '../../helpers/tcp-proxy.js'
import { next, sdkStack } from './fixture.js'

t.test('a silent dead link is found by ping and replaced', async (t) => {
  const s = await sdkStack(t)
  const proxy = await startProxy(t, s.engine.port)
  const widget = s.widget({ url: proxy.url, pingIntervalMs: 500, pingTimeoutMs: 1000 })
  await widget.whenSynced()
  const conv = await widget.openConversation()
  await widget.send(conv.id, 'before')
  const reconnecting = next(widget, 'state', (d) => d.state === 'reconnecting')
  const synced = next(widget, 'synced', (d) => d.reconnect === true)
  const started = Date.now()
  proxy.freeze()
  const during = widget.send(conv.id, 'while the link was dead')
  await reconnecting
  t.ok(Date.now() - started < 4000, `noticed in ${Date.now() - started} ms`)
  await synced
  t.equal((await during).content, 'while the link was dead')
  const contents = (await s.serverHistory(conv.id)).map((m) => m['content'])
  t.equal(contents.filter((c) => c === 'while the link was dead').length, 1, 'on the server once')
})
