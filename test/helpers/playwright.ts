// Real Chromium for the browser tests: Debian's /usr/bin/chromium (CHROMIUM to override) driven by
// playwright-core, headless, no sandbox (root in CI) and nothing that reaches out to the network;
// one browser per test file, closed at teardown. Also a second local HTTP server, so a host page
// is of another origin than the engine, as on a customer's website.
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'

type T = { teardown(fn: () => unknown): void }

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
]

/** Playwright's launch gives the browser a fresh --user-data-dir of its own (removed at close). */
export async function launchBrowser(t: T): Promise<Browser> {
  const executablePath = process.env['CHROMIUM'] ?? '/usr/bin/chromium'
  if (!existsSync(executablePath)) throw new Error(`${executablePath} not found: the browser tests drive Debian's chromium; run \`npm run setup\` as root (apt-get install -y chromium)`)
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 })
  t.teardown(() => browser.close())
  return browser
}

/** An HTTP server on 127.0.0.1 answering every GET with `page(path)` (HTML); `null` → 404. */
export async function hostServer(t: T, page: (path: string) => string | null): Promise<string> {
  const server = createServer((req, res) => {
    const body = page(new URL(req.url ?? '/', 'http://x').pathname)
    if (body === null) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  // "localhost" while the engine is 127.0.0.1: another host and port, so another origin
  return `http://localhost:${(server.address() as AddressInfo).port}`
}

/** A host page with the one widget tag, plus whatever `head`/`body` the test adds. */
export function widgetPage(engineHttp: string, websiteToken: string, extra: { head?: string; body?: string } = {}): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Host page</title>${extra.head ?? ''}</head><body>
<h1>A customer's website</h1>${extra.body ?? ''}
<script src="${engineHttp}/widget.js" data-website-token="${websiteToken}" async></script></body></html>`
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The message texts a page shows, in order (widget: in its shadow root; console: in the log). */
export async function widgetTexts(page: Page): Promise<string[]> {
  return page.locator('[data-parley] .msg:not(.act)').allTextContents()
}
export async function consoleTexts(page: Page): Promise<string[]> {
  return page.locator('.log .msg:not(.activity) .text').allTextContents()
}

/** Collects a page's uncaught errors and console errors (a test asserts there are none). */
export function pageErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`)
  })
  return errors
}
