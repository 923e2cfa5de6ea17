// The widget's page API and the newcomer's demo, in real Chromium: window.parley toggle / on
// ('ready', 'open', 'close', 'message') / setUser (a verified identifier follows the visitor to
// another browser) / reset (a new anonymous visitor); the unread badge while closed; history
// paging ("Load earlier messages"); the size of what the widget loads into a host page (gzip -9
// of the real build, ≤ 35 KiB); and the /demo page on a demo tenant made (then reused) the way
// `npm start` makes it: the widget and the console side by side, chatting.
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { ensureDemo } from '../../engine/embedded/demo.js'
import { WEB_BUNDLES } from '../../engine/web/build.js'
import { createTenant } from '../helpers/admin.js'
import { ADMIN_TOKEN, startEngine } from '../helpers/engine.js'
import { connect } from '../helpers/client.js'
import { hostServer, launchBrowser, pageErrors, until, widgetPage, widgetTexts } from '../helpers/playwright.js'
import { startTestRedis } from '../helpers/stack.js'
import type { Page } from 'playwright-core'

const MAX_WIDGET_GZIP = 35 * 1024

t.test('the widget bundle, SDK and styles included, is at most 35 KiB gzip -9', async (t) => {
  const bytes = gzipSync(readFileSync(WEB_BUNDLES.widget), { level: 9 }).length
  t.ok(bytes <= MAX_WIDGET_GZIP, `widget.js: ${bytes} bytes gzip -9 (limit ${MAX_WIDGET_GZIP})`)
  t.match(readFileSync(WEB_BUNDLES.widget, 'utf8'), /attachShadow/, 'the styles ship inside it (shadow root)')
})

t.test('window.parley, unread badge, history paging, setUser across browsers, reset, and /demo', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '10000' } })
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false } })
  const agentToken = (tenant.agents[0] as { token: string }).token
  const secret = tenant.inbox['hmacSecret'] as string
  const host = await hostServer(t, (path) => (path === '/' ? widgetPage(engine.http, tenant.inbox['websiteToken'], {
    head: '<script>window.seen = []; window.addEventListener("parley:ready", () => { for (const ev of ["ready", "open", "close", "message"]) window.parley.on(ev, (d) => window.seen.push(ev === "message" ? "message:" + d.content : ev)) })</script>',
  }) : null))
  const browser = await launchBrowser(t)
  const agent = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(agentToken)}`)
  t.teardown(() => agent.close())
  const seen = (p: Page) => p.evaluate(() => (window as unknown as { seen: string[] }).seen)

  const ctx = await browser.newContext()
  const page = await ctx.newPage()
  const errors = pageErrors(page)
  await page.goto(`${host}/`)
  await until(async () => (await seen(page)).includes('ready'), 'ready')
  await page.evaluate(() => (window as unknown as { parley: { toggle(s?: string): void } }).parley.toggle('open'))
  await page.getByRole('textbox', { name: 'Type your message' }).fill('first from the visitor')
  await page.keyboard.press('Enter')
  await until(async () => (await seen(page)).includes('message:first from the visitor'), 'on("message") for the visitor\'s own message')
  await page.evaluate(() => (window as unknown as { parley: { toggle(s?: string): void } }).parley.toggle())
  t.same((await seen(page)).filter((e) => e === 'open' || e === 'close'), ['open', 'close'], 'toggle opens and closes, with open/close events')


  // keyboard: the launcher is reachable, Enter opens with the focus in the message box, Escape closes back to it
  await page.getByRole('button', { name: 'Open chat' }).focus()
  await page.keyboard.press('Enter')
  await until(async () => page.getByRole('textbox', { name: 'Type your message' }).evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), 'focus in the message box')
  await page.keyboard.press('Tab')
  t.equal(await page.evaluate(() => document.querySelector('[data-parley]')?.shadowRoot?.activeElement?.textContent), 'Send', 'Tab goes from the message box to Send')
  await page.keyboard.press('Escape')
  await until(async () => page.getByRole('button', { name: 'Open chat' }).evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), 'Escape closes and the focus is back on the launcher')
  // closed: agent messages raise the unread badge
  const list = await agent.request('conversation.list', { assignee: 'all' })
  const conversationId = list['data']['conversations'][0]['id'] as string
  for (let i = 1; i <= 60; i++) {
    const r = await agent.request('message.send', { conversationId, content: `agent ${i}`, echoId: `e${i}` })
    if (r['ok'] !== true) throw new Error(JSON.stringify(r))
  }
  await until(async () => (await page.locator('[data-parley] .badge').innerText().catch(() => '')) === '60', 'the unread badge counts 60')
  t.equal(await page.getByRole('button', { name: 'Open chat' }).getAttribute('aria-describedby'), 'unread', 'the launcher is described by the unread count')
  t.equal(await page.locator('[data-parley] #unread').textContent(), '60 unread messages', 'a screen reader hears the unread count')
  t.ok((await seen(page)).includes('message:agent 60'), 'on("message") hears the agent')

  // reload: the latest 50 are shown, the rest is paged in
  await page.reload()
  await until(async () => (await widgetTexts(page)).length === 50, 'the latest page after a reload')
  await page.getByRole('button', { name: 'Open chat' }).click()
  await until(async () => (await page.locator('[data-parley] .badge').isHidden()), 'opening clears the badge')
  await page.getByRole('button', { name: 'Load earlier messages' }).click()
  await until(async () => (await widgetTexts(page)).length === 61, 'history paging shows everything')
  t.same((await widgetTexts(page)).slice(0, 2), ['first from the visitor', 'agent 1'], 'oldest first, in order')
  t.ok(await page.getByRole('button', { name: 'Load earlier messages' }).isHidden(), 'no more pages')

  // setUser with a verified identifier: another browser with the same identity sees the same conversation
  const identifier = 'customer-42'
  const identifierHash = createHmac('sha256', secret).update(identifier).digest('hex')
  const setUser = (p: Page) => p.evaluate(([i, h]) => (window as unknown as { parley: { setUser(i: string, o: object): void } }).parley.setUser(i as string, { identifierHash: h, name: 'Ada', email: 'ada@example.com' }), [identifier, identifierHash])
  await setUser(page)
  await page.getByRole('textbox', { name: 'Type your message' }).fill('hello as Ada')
  await page.keyboard.press('Enter')
  await until(async () => (await widgetTexts(page)).includes('hello as Ada'), 'the identified visitor writes')
  const other = await browser.newContext()
  const second = await other.newPage()
  await second.goto(`${host}/`)
  await until(async () => (await seen(second)).includes('ready'), 'the second browser is ready')
  t.same(await widgetTexts(second), [], 'an anonymous visitor on the second browser sees nothing of Ada')
  await setUser(second)
  await second.getByRole('button', { name: 'Open chat' }).click()
  await until(async () => (await widgetTexts(second)).includes('hello as Ada'), 'the second browser, as Ada, sees her conversation')
  await second.reload()
  await until(async () => (await widgetTexts(second)).includes('hello as Ada'), 'and keeps it after a reload (the identity is remembered)')
  await other.close()

  // reset: a new anonymous visitor, nothing of Ada on screen or after a reload
  await page.evaluate(() => (window as unknown as { parley: { reset(): void } }).parley.reset())
  await until(async () => (await widgetTexts(page)).length === 0, 'reset empties the widget')
  await page.reload()
  await until(async () => (await seen(page)).includes('ready'), 'ready after reset and reload')
  t.same(await widgetTexts(page), [], 'after reset and a reload the visitor is a new one')
  t.same(errors, [], 'no script errors')
  await ctx.close()

  // ---- the demo that npm start prints ----
  const dir = await mkdtemp(join(tmpdir(), 'parley-demo-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const first = await ensureDemo(engine.http, ADMIN_TOKEN, join(dir, 'demo.json'))
  const again = await ensureDemo(engine.http, ADMIN_TOKEN, join(dir, 'demo.json'))
  t.ok(first.created && !again.created, 'the demo tenant is made once, then reused')
  t.equal(again.url, first.url, 'with the same tokens')
  const dctx = await browser.newContext({ viewport: { width: 1400, height: 760 } })
  const demo = await dctx.newPage()
  await demo.goto(first.url)
  const site = demo.frameLocator('#site')
  const consoleFrame = demo.frameLocator('#console')
  await consoleFrame.getByRole('navigation', { name: 'Conversation lists' }).waitFor()
  await site.getByRole('textbox', { name: 'Type your message' }).fill('Hi from the demo website')
  await site.getByRole('textbox', { name: 'Type your message' }).press('Enter')
  await consoleFrame.getByRole('button', { name: /#1/ }).click()
  await consoleFrame.getByText('Hi from the demo website').waitFor()
  await until(async () => (await consoleFrame.locator('.thread-head .meta').innerText()).includes('Assignee: Demo Agent'), 'the demo inbox auto-assigns to the online demo agent')
  await consoleFrame.getByRole('textbox', { name: 'Reply' }).fill('Hello from the console')
  await consoleFrame.getByRole('textbox', { name: 'Reply' }).press('Enter')
  await site.getByText('Hello from the console').waitFor()
  t.pass('the demo page chats both ways between its widget and its console')
  await dctx.close()
})
