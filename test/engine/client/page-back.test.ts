// A browser's "the page is back" signals: with a long backoff pending after a drop, `online`,
// `visibilitychange` (to visible) and `focus` make the browser bundle reconnect at once; close()
// removes the listeners.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { SDK_BUNDLE } from '../../../engine/http/sdk.js'
import { startProxy } from '../../helpers/tcp-proxy.js'
import { next, pageWith, sdkStack } from './fixture.js'

t.test('online, visible and focus cut a pending backoff short', async (t) => {
  const s = await sdkStack(t)
  const proxy = await startProxy(t, s.engine.port)
  const page = pageWith(readFileSync(SDK_BUNDLE, 'utf8'))
  page.run('Math.random = () => 0.999') // the jittered delay is then ~baseMs: 20 s
  const widget = page.Parley.createWidgetClient({
    url: proxy.url, websiteToken: s.tenant.inbox['websiteToken'] as string, backoff: { baseMs: 20_000, maxMs: 60_000 },
  })
  t.teardown(() => widget.close())
  await widget.whenSynced()
  for (const [where, type] of [['window', 'online'], ['document', 'visibilitychange'], ['window', 'focus']] as const) {
    const down = next(widget, 'state', (d) => d.state === 'reconnecting')
    proxy.drop()
    await down
    await new Promise((r) => setTimeout(r, 300))
    t.equal(widget.state, 'reconnecting', `${type}: waiting out a 20 s backoff`)
    const synced = next(widget, 'synced', (d) => d.reconnect === true, 5000)
    const started = Date.now()
    page.fire(where, type)
    await synced
    t.ok(Date.now() - started < 3000, `${type}: reconnected in ${Date.now() - started} ms`)
  }
  page.document.visibilityState = 'hidden'
  const down = next(widget, 'state', (d) => d.state === 'reconnecting')
  proxy.drop()
  await down
  page.fire('document', 'visibilitychange')
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(widget.state, 'reconnecting', 'a page going hidden does not reconnect')
  widget.close()
  t.equal(page.listening('window', 'online') + page.listening('window', 'focus') + page.listening('document', 'visibilitychange'), 0, 'close() removes the listeners')
})
