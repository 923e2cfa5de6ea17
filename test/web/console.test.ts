// The console and the widget against hostile surroundings, in real Chromium: two consoles assign
// the same conversation (the second sees the conflict, nothing is overwritten); a host page with
// hostile CSS (`* { all: unset !important }`, huge fonts, z-index wars) where the widget still
// renders at its size and works; hostile message content shown as text on both sides; every
// control of the widget and the console has an accessible name; bad website and agent tokens
// show a clear message; an administrator sees conversations of inboxes it is not a member of.
import t from 'tap'
import { adminPost, createTenant } from '../helpers/admin.js'
import { consoleTexts, hostServer, launchBrowser, pageErrors, until, widgetPage, widgetTexts } from '../helpers/playwright.js'
import { connect } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'
import type { Page } from 'playwright-core'

const HOSTILE_CSS = `<style>
* { all: unset !important; }
html { font-size: 64px !important; } body * { font-size: 72px !important; line-height: 3 !important; z-index: 2147483647 !important; }
div, section, button, textarea { width: 2000px !important; display: block !important; position: static !important; }
</style>`
const COVER = '<div id="cover" style="position:fixed!important;right:0!important;bottom:0!important;width:240px!important;height:240px!important;z-index:2147483647!important;background:rgba(255,0,0,.3)!important">z-index war</div>'
const HOSTILE_TEXT = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> مرحبا بالعالم 👋🏽 ' + 'W'.repeat(2000)

/** roles of controls in Playwright's aria snapshot that appear without a quoted name */
function unnamed(snapshot: string): string[] {
  return snapshot.split('\n').filter((l) => /^\s*- (button|textbox|combobox|checkbox|radio|link|switch|slider|spinbutton)\b/.test(l) && !/^\s*- \w+ "/.test(l))
}

async function signIn(page: Page, http: string, token: string): Promise<void> {
  await page.goto(`${http}/console`)
  await page.getByLabel('Agent token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('navigation', { name: 'Conversation lists' }).waitFor()
}

t.test('conflicting assignment, hostile CSS and content, accessible names, bad tokens, admin reach', async (t) => {
  const redis = await startTestRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '10000' } })
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false }, agents: 2 })
  const [a1, a2] = tenant.agents as [{ agent: { id: string }; token: string }, { agent: { id: string }; token: string }]
  // an administrator who is a member of no inbox
  const admin = (await adminPost(engine.http, `/api/v1/accounts/${tenant.account['id']}/agents`, { name: 'Boss', role: 'administrator', inboxIds: [] })).body as { token: string }
  const token = tenant.inbox['websiteToken'] as string
  const host = await hostServer(t, (path) =>
    path === '/hostile' ? widgetPage(engine.http, token, { head: HOSTILE_CSS, body: COVER })
      : path === '/bad' ? widgetPage(engine.http, 'a_nope.not-a-token')
        : null)
  const browser = await launchBrowser(t)

  // ---- hostile host page ----
  const vctx = await browser.newContext({ viewport: { width: 1000, height: 760 } })
  const visitor = await vctx.newPage()
  const vErrors = pageErrors(visitor)
  const engineRequests: string[] = []
  const sockets: string[] = []
  visitor.on('request', (r) => {
    if (r.url().startsWith(engine.http)) engineRequests.push(new URL(r.url()).pathname)
  })
  visitor.on('websocket', (ws) => sockets.push(new URL(ws.url()).pathname))
  await visitor.goto(`${host}/hostile`)
  const launcher = visitor.getByRole('button', { name: 'Open chat' })
  await launcher.waitFor()
  const lb = await launcher.boundingBox()
  t.ok(lb !== null && Math.round(lb.width) === 56 && Math.round(lb.height) === 56, `the launcher keeps its size on a hostile page (${JSON.stringify(lb)})`)
  t.ok(lb !== null && lb.x + lb.width <= 1000 && lb.y + lb.height <= 760 && lb.x > 800, 'and its place at the bottom right')
  await launcher.click() // Playwright refuses to click when another element would receive the click
  const box = visitor.getByRole('textbox', { name: 'Type your message' })
  await box.waitFor()
  const pb = await visitor.getByRole('dialog').boundingBox()
  t.ok(pb !== null && Math.round(pb.width) === 360, `the panel keeps its width (${pb?.width})`)
  t.equal(await box.evaluate((el) => getComputedStyle(el).fontSize), '14px', 'the page\'s huge fonts do not reach the widget')
  t.same(unnamed(await visitor.getByRole('dialog').ariaSnapshot()), [], 'every control of the widget panel has an accessible name')
  await box.fill(HOSTILE_TEXT)
  await visitor.getByRole('button', { name: 'Send' }).click()

  // ---- two consoles: the first takes the conversation, the second's stale choice is refused ----
  const c1ctx = await browser.newContext({ viewport: { width: 1200, height: 760 } })
  const c2ctx = await browser.newContext({ viewport: { width: 1200, height: 760 } })
  const c1 = await c1ctx.newPage()
  const c2 = await c2ctx.newPage()
  const cErrors = [...pageErrors(c1), ...pageErrors(c2)]
  await Promise.all([signIn(c1, engine.http, a1.token), signIn(c2, engine.http, a2.token)])
  for (const c of [c1, c2]) {
    await c.getByRole('button', { name: /#1/ }).click()
    await until(async () => (await consoleTexts(c)).includes(HOSTILE_TEXT), 'the hostile message in the console, as text')
  }
  t.equal(await c1.locator('.log img, .log script').count(), 0, 'no markup from the message in the console')
  t.equal(await visitor.locator('[data-parley] img').count(), 0, 'no markup from the message in the widget')
  await until(async () => (await widgetTexts(visitor)).includes(HOSTILE_TEXT), 'the hostile message in the widget, as text')
  t.equal(await visitor.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'nothing ran in the host page')
  t.equal(await c1.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'nothing ran in the console')
  const bubble = await visitor.locator('[data-parley] .msg.in').last().boundingBox()
  t.ok(bubble !== null && bubble.width <= 360, `a 2000-character word wraps inside the panel (${bubble?.width})`)

  await c2.getByRole('combobox', { name: 'Assignee' }).selectOption({ label: 'Agent 2' })
  await c1.getByRole('button', { name: 'Assign to me' }).click()
  await until(async () => (await c1.locator('.thread-head .meta').innerText()).includes('Assignee: Agent 1'), 'the first console assigned')
  await until(async () => (await c2.locator('.thread-head .meta').innerText()).includes('Assignee: Agent 1'), 'the second console sees the new assignee live')
  await c2.getByRole('button', { name: 'Assign', exact: true }).click()
  await until(async () => (await c2.getByRole('alert').innerText()).startsWith('Conflict'), 'the second console shows the conflict')
  const raw = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(a1.token)}`)
  const listed = await raw.request('conversation.list', { assignee: 'all' })
  await raw.close()
  t.equal(listed['data']['conversations'][0]['assigneeId'], a1.agent.id, 'the first assignment stands: not overwritten')
  t.equal(await c2.getByRole('combobox', { name: 'Assignee' }).inputValue(), a1.agent.id, 'the second console shows the server\'s assignee again')

  // lists: "Mine" is per agent; snooze and reopen move the conversation between the status lists
  await c1.getByRole('button', { name: 'Mine', exact: true }).click()
  await c1.locator('.list [data-id]').first().waitFor()
  await c2.getByRole('button', { name: 'Mine', exact: true }).click()
  await until(async () => (await c2.locator('.side .empty').isVisible()), 'the second agent has nothing of its own')
  await c1.getByRole('button', { name: 'Snooze 1 hour' }).click()
  await until(async () => (await c1.locator('.thread-head .meta').innerText()).includes('Status: snoozed'), 'snoozed')
  await until(async () => (await c1.locator('.list [data-id]').count()) === 0, 'the snoozed conversation leaves the open list live')
  await c1.getByRole('button', { name: 'Snoozed', exact: true }).click()
  await c1.locator('.list [data-id]').first().waitFor()
  await c1.getByRole('button', { name: 'Reopen' }).click()
  await until(async () => (await c1.locator('.thread-head .meta').innerText()).includes('Status: open'), 'reopened')
  await c1.getByRole('button', { name: 'Open', exact: true }).click()
  await c1.locator('.list [data-id]').first().waitFor()
  t.pass('mine / snoozed / open lists follow assignment and status live')
  t.same(unnamed(await c1.locator('body').ariaSnapshot()), [], 'every control of the console has an accessible name')
  for (const [role, name] of [['button', 'Mine'], ['button', 'Unassigned'], ['button', 'Resolved'], ['textbox', 'Reply'], ['checkbox', 'Private note'], ['combobox', 'Availability'], ['button', 'Resolve'], ['button', 'Snooze 1 hour']] as const) {
    t.equal(await c1.getByRole(role, { name, exact: true }).count(), 1, `console: ${role} "${name}"`)
  }

  // presence toggle: the choice is the server's (a reload signs in again from sessionStorage and shows it)
  await c2.getByRole('combobox', { name: 'Availability' }).selectOption('busy')
  const busy = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(a1.token)}`)
  await until(async () => ((await busy.request('agents.list'))['data']['agents'] as { id: string; availability: string }[]).some((a) => a.id === a2.agent.id && a.availability === 'busy'), 'the server has the second agent busy')
  await busy.close()
  await c2.reload()
  await c2.getByRole('navigation', { name: 'Conversation lists' }).waitFor()
  t.equal(await c2.getByRole('combobox', { name: 'Availability' }).inputValue(), 'busy', 'the presence toggle sets the agent\'s availability')

  // ---- an administrator sees the inbox it is not a member of ----
  const bossCtx = await browser.newContext()
  const boss = await bossCtx.newPage()
  await signIn(boss, engine.http, admin.token)
  await boss.getByRole('button', { name: /#1/ }).waitFor()
  t.pass('the administrator lists the conversation of an inbox it is not a member of')
  await bossCtx.close()

  // ---- bad tokens ----
  const badCtx = await browser.newContext()
  const bad = await badCtx.newPage()
  let widgetError: unknown = null
  await bad.exposeFunction('reportError', (e: unknown) => void (widgetError = e))
  await bad.addInitScript(() => window.addEventListener('load', () => {
    const p = (window as unknown as { parley?: { on(ev: string, fn: (e: unknown) => void): void } }).parley
    p?.on('error', (e) => (window as unknown as { reportError: (e: unknown) => void }).reportError(e))
  }))
  await bad.goto(`${host}/bad`)
  await bad.getByRole('button', { name: 'Open chat' }).click()
  await until(async () => (await bad.getByRole('alert').innerText().catch(() => '')).includes('website token was not accepted'), 'a clear message for a bad website token', 30_000)
  t.match(widgetError, { code: 'unauthorized' }, 'window.parley reports the error')
  await bad.goto(`${engine.http}/console`)
  await bad.getByLabel('Agent token').fill('a_nope.wrong-token')
  await bad.getByRole('button', { name: 'Sign in' }).click()
  await until(async () => (await bad.getByRole('alert').innerText()).includes('this agent token was not accepted'), 'a clear message for a bad agent token', 30_000)
  t.same(unnamed(await bad.locator('body').ariaSnapshot()), [], 'the sign-in form\'s controls have accessible names')
  await badCtx.close()

  t.same([...new Set(engineRequests.filter((p) => p !== '/readyz'))], ['/widget.js'], 'the widget loads one script into the host page, nothing else')
  t.same([...new Set(sockets)], ['/ws/widget'], 'and opens its socket')
  t.same(vErrors, [], 'no script errors in the hostile host page')
  t.same(cErrors, [], 'no script errors in the consoles')
  await Promise.all([vctx.close(), c1ctx.close(), c2ctx.close()])
})
