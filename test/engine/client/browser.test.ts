// The SDK in a real browser (headless Chromium), loaded from the engine's GET /sdk.js by a page of
// another origin: a widget connects, opens a conversation and sends; after a reload it is the same
// contact (its session in localStorage); a forged agent token — whose HTTP 401 a browser hides —
// ends the client after exactly 3 upgrade attempts, told apart from an outage by the /readyz probe.
import { createServer } from 'node:http'
import t from 'tap'
import { findChromium, startBrowser } from '../../helpers/browser.js'
import { sdkStack } from './fixture.js'

const chromium = findChromium()

async function metric(http: string, name: string): Promise<number> {
  const line = (await (await fetch(`${http}/metrics`)).text()).split('\n').find((l) => l.startsWith(name))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

t.test('in Chromium, from /sdk.js', { skip: chromium === null ? 'no chromium on this machine (npm run setup installs it)' : false }, async (t) => {
  const s = await sdkStack(t)
  // the site embedding the widget: another origin than the engine
  const site = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(`<!doctype html><title>shop</title><script src="${s.engine.http}/sdk.js"></script>`)
  })
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise((r) => site.close(r)))
  const siteUrl = `http://localhost:${(site.address() as { port: number }).port}/`
  const browser = await startBrowser(t, chromium as string)
  const page = await browser.open(siteUrl)
  const opts = JSON.stringify({ url: s.engine.http, websiteToken: s.tenant.inbox['websiteToken'] })

  const first = await page.evaluate<{ contact: string; conversation: string; content: string; stored: boolean }>(`(async () => {
    const c = Parley.createWidgetClient(${opts})
    await c.whenSynced()
    const conv = await c.openConversation({ page: location.href })
    const m = await c.send(conv.id, 'from a real browser')
    const out = { contact: c.contact().id, conversation: conv.id, content: m.content, stored: Object.keys(localStorage).some((k) => k.endsWith(':session')) }
    c.close()
    return out
  })()`)
  t.equal(first.content, 'from a real browser', 'sent and acknowledged')
  t.ok(first.stored, 'the session is in localStorage')

  await page.reload()
  const second = await page.evaluate<{ contact: string; conversation: string | null; held: string[] }>(`(async () => {
    const c = Parley.createWidgetClient(${opts})
    await c.whenSynced()
    const id = c.hello.conversation && c.hello.conversation.id
    const out = { contact: c.contact().id, conversation: id, held: c.messages(id).map((m) => m.content) }
    c.close()
    return out
  })()`)
  t.equal(second.contact, first.contact, 'after a reload: the same contact')
  t.equal(second.conversation, first.conversation, 'and its conversation')
  t.ok(second.held.includes('from a real browser'), 'with its messages resynced')

  const before = await metric(s.engine.http, 'parley_upgrades_total{status="401"}')
  const forged = await page.evaluate<{ code: string; message: string; states: string[] }>(`(async () => {
    const c = Parley.createAgentClient({ url: ${JSON.stringify(s.engine.http)}, token: 'a_x.forged', backoff: { baseMs: 50, maxMs: 200 } })
    const states = []
    c.on('state', (e) => states.push(e.state))
    const err = await new Promise((resolve) => c.on('error', resolve))
    return { code: err.code, message: err.message, states }
  })()`)
  t.equal(forged.code, 'unauthorized')
  t.match(forged.message, /hides the HTTP status/, 'the error says why it cannot be more precise')
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(await metric(s.engine.http, 'parley_upgrades_total{status="401"}') - before, 3, 'the server saw exactly 3 upgrade attempts')
})
