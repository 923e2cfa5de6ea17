// A visitor on a website of another origin chats with an agent in the console, in real Chromium:
// both ways, typing and read receipts both ways, Enter / Shift+Enter, presence line, a title badge
// for the new conversation, a reload that keeps the conversation; then the engine is SIGKILLed and
// restarted mid-chat (sends made during the outage included): both pages come back by themselves
// and show every message exactly once, in order; then resolve → CSAT → the rating is on the
// conversation. Writes the README's screenshots of the widget and the console.
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { hostServer, launchBrowser, pageErrors, until, widgetPage, widgetTexts, consoleTexts } from '../helpers/playwright.js'
import { connect } from '../helpers/client.js'
import { startEngine, type EngineProc } from '../helpers/engine.js'
import { freePort } from '../../engine/embedded/ports.js'
import { startTestRedis } from '../helpers/stack.js'

const SHOTS = fileURLToPath(new URL('../../../engine/web/screenshots/', import.meta.url))

t.test('widget on another origin ↔ console: chat, typing, receipts, reload, engine SIGKILL, CSAT', async (t) => {
  const redis = await startTestRedis(t)
  const port = await freePort()
  const env = { CONN_RATE_POINTS: '10000' }
  let engine: EngineProc = await startEngine(t, { redisUrl: redis.url, env, port })
  const http = `http://127.0.0.1:${port}`
  const tenant = await createTenant(http, { inbox: { autoAssign: false, name: 'Acme Support' } })
  const agent = tenant.agents[0] as { agent: { id: string; name: string }; token: string }
  const host = await hostServer(t, (path) => (path === '/' ? widgetPage(http, tenant.inbox['websiteToken']) : null))
  const browser = await launchBrowser(t)

  const visitorCtx = await browser.newContext({ viewport: { width: 900, height: 720 } })
  const visitor = await visitorCtx.newPage()
  const vErrors = pageErrors(visitor)
  await visitor.goto(`${host}/`)
  const launcher = visitor.getByRole('button', { name: 'Open chat' })
  await launcher.click()
  const box = visitor.getByRole('textbox', { name: 'Type your message' })
  await box.waitFor()
  t.ok(await box.evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), 'opening the panel puts the focus in the message box')
  await until(async () => (await visitor.getByRole('status').first().textContent())?.includes('We will reply soon') === true, 'the "we will reply soon" line while no agent is online')

  const agentCtx = await browser.newContext({ viewport: { width: 1200, height: 720 } })
  const console_ = await agentCtx.newPage()
  const aErrors = pageErrors(console_)
  await console_.goto(`${http}/console`)
  await console_.getByLabel('Agent token').fill(agent.token)
  await console_.getByRole('button', { name: 'Sign in' }).click()
  await console_.getByRole('navigation', { name: 'Conversation lists' }).waitFor()
  await until(async () => (await visitor.getByRole('status').first().textContent())?.includes('Agents online') === true, 'the widget says agents are online once the agent signed in')

  // the first message opens the conversation; the console hears of it live, with a title badge
  await box.fill('Hello, my <b>order</b> is late')
  await visitor.getByRole('button', { name: 'Send' }).click()
  const row = console_.getByRole('button', { name: /#1/ })
  await row.waitFor()
  await until(async () => (await console_.title()).startsWith('(1) '), 'a title badge for the new conversation')
  await row.click()
  await until(async () => (await consoleTexts(console_)).includes('Hello, my <b>order</b> is late'), 'the first message in the console')
  t.equal(await console_.locator('.log b').count(), 0, 'markup in a message is shown as text')
  t.notOk((await console_.title()).startsWith('('), 'opening the conversation clears the title badge')
  await until(async () => /Waiting \d+ s/.test(await console_.locator('.waiting').innerText()), 'a waiting-since timer')

  // typing both ways
  await box.pressSequentially('Are you', { delay: 30 })
  await until(async () => (await console_.locator('.typing').innerText()).includes('Visitor is typing'), 'the console sees the visitor typing')
  await box.press('Shift+Enter')
  await box.pressSequentially('there?', { delay: 10 })
  await box.press('Enter')
  const reply = console_.getByRole('textbox', { name: 'Reply' })
  await reply.pressSequentially('Let me check', { delay: 30 })
  await until(async () => (await visitor.locator('[data-parley] .typing').innerText()).includes('typing'), 'the widget sees the agent typing')
  await reply.press('Enter')
  await until(async () => (await widgetTexts(visitor)).includes('Let me check'), 'the agent reply in the widget')
  t.same(await consoleTexts(console_), ['Hello, my <b>order</b> is late', 'Are you\nthere?', 'Let me check'], 'Shift+Enter is a new line, Enter sends')
  // read receipts: the open widget marks the reply read, the open console the visitor's messages
  await until(async () => (await console_.locator('.receipt').innerText()) === 'Read', 'the console shows the reply as read')
  await until(async () => (await visitor.locator('[data-parley] .meta').innerText()) === 'Read', 'the widget shows its message as read')

  // a private note never reaches the widget
  await console_.getByLabel('Private note').check()
  await reply.fill('internal: VIP customer')
  await reply.press('Enter')
  await console_.getByLabel('Private note').uncheck()
  await until(async () => (await consoleTexts(console_)).includes('internal: VIP customer'), 'the note in the console')

  // reload: same visitor, same conversation
  await visitor.reload()
  await visitor.getByRole('textbox', { name: 'Type your message' }).waitFor()
  const before = ['Hello, my <b>order</b> is late', 'Are you\nthere?', 'Let me check']
  await until(async () => JSON.stringify(await widgetTexts(visitor)) === JSON.stringify(before), 'the conversation after a reload')

  // the engine is killed mid-chat; both sides write during the outage; a new engine on the same port
  await engine.kill()
  await until(async () => (await visitor.getByRole('status').first().textContent())?.includes('Reconnecting') === true, 'a quiet reconnecting line in the widget')
  await until(async () => (await console_.locator('.conn').innerText()).includes('Reconnecting'), 'reconnecting in the console')
  await box.fill('sent while the engine was down')
  await box.press('Enter')
  await reply.fill('agent wrote during the outage')
  await reply.press('Enter')
  engine = await startEngine(t, { redisUrl: redis.url, env, port })
  await box.fill('after the restart')
  await box.press('Enter')
  const all = [...before, 'sent while the engine was down', 'agent wrote during the outage', 'after the restart']
  const visitorSees = (xs: string[]) => xs.filter((x) => x !== 'internal: VIP customer')
  // the two outage sends race each other: the server's order is the truth both pages must show
  async function expectedOrder(): Promise<string[]> {
    const raw = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(agent.token)}`)
    try {
      const list = await raw.request('conversation.list', { assignee: 'all' })
      const id = list['data']['conversations'][0]['id'] as string
      const h = await raw.request('history', { conversationId: id, limit: 200 })
      return (h['data']['messages'] as { type: string; content: string }[]).filter((m) => m.type !== 'activity').map((m) => m.content)
    } finally {
      await raw.close()
    }
  }
  let server: string[] = []
  await until(async () => (server = await expectedOrder()).length === all.length + 1, 'the outbox sends reach the server', 30_000)
  t.same([...server].sort(), [...all, 'internal: VIP customer'].sort(), 'the server holds every message once')
  await until(async () => JSON.stringify(await widgetTexts(visitor)) === JSON.stringify(visitorSees(server)), 'the widget shows every message once, in order', 30_000)
  await until(async () => JSON.stringify(await consoleTexts(console_)) === JSON.stringify(server), 'the console shows every message once, in order', 30_000)
  t.notMatch(await visitor.locator('[data-parley]').evaluate((el) => el.shadowRoot?.textContent ?? ''), /refresh/i, 'never "please refresh"')

  await mkdir(SHOTS, { recursive: true })
  await visitor.screenshot({ path: `${SHOTS}widget.png` })
  await console_.screenshot({ path: `${SHOTS}console.png` })

  // resolve → the widget asks for a rating → the rating is on the conversation
  await console_.getByRole('button', { name: 'Resolve', exact: true }).click()
  await visitor.getByRole('button', { name: 'Rate 4 out of 5' }).click()
  await visitor.getByRole('textbox', { name: 'Comment (optional)' }).fill('Quick and kind')
  await visitor.getByRole('button', { name: 'Submit rating' }).click()
  await until(async () => (await visitor.locator('[data-parley] .note').innerText()).includes('4 out of 5'), 'the widget thanks for the rating')
  await until(async () => (await console_.locator('.thread-head .meta').innerText()).includes('Rating: 4/5 “Quick and kind”'), 'the console shows the rating live')
  const raw = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(agent.token)}`)
  const list = await raw.request('conversation.list', { status: 'resolved', assignee: 'all' })
  const rated = list['data']['conversations'][0]
  await raw.close()
  t.match(rated['rating'], { score: 4, comment: 'Quick and kind' }, 'the rating is on the conversation')
  t.same(vErrors, [], 'no script errors in the host page')
  t.same(aErrors, [], 'no script errors in the console')
  await visitorCtx.close()
  await agentCtx.close()
})
