// The browser apps' routes: GET /widget.js (the website widget, CORS open: any site embeds it),
// /console and /console.js (the agent console), /demo and /demo/site (the demo of `npm start`).
// Bodies are read once at startup and answered with a strong ETag (If-None-Match → 304), gzip
// when accepted, a short public cache that revalidates; pages get a CSP that allows only this
// origin's scripts (plus the pages' own inline bootstrap) and connections.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { sendJson, track } from '../http/respond.js'
import { WEB_BUNDLES } from './build.js'
import { CONSOLE_HTML, DEMO_HTML, DEMO_SITE_HTML } from './pages.js'

type Asset = { body: Buffer; gz: Buffer; etag: string; type: string; headers: [string, string][] }

function asset(body: Buffer, type: string, headers: [string, string][] = []): Asset {
  return { body, gz: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, type, headers }
}

function readBundle(file: string): Buffer | null {
  try {
    return readFileSync(file)
  } catch {
    return null // not built (tsc without the bundle step): 404 rather than fail to start
  }
}

function serve(res: HttpResponse, inm: string, acceptEncoding: string, a: Asset): void {
  const fresh = inm !== '' && inm.split(/\s*,\s*/).includes(a.etag)
  const gzip = /\bgzip\b/.test(acceptEncoding)
  res.cork(() => {
    res.writeStatus(fresh ? '304 Not Modified' : '200 OK')
      .writeHeader('content-type', a.type)
      .writeHeader('cache-control', 'public, max-age=300, stale-while-revalidate=86400')
      .writeHeader('etag', a.etag)
      .writeHeader('vary', 'accept-encoding')
      .writeHeader('x-content-type-options', 'nosniff')
    for (const [k, v] of a.headers) res.writeHeader(k, v)
    if (fresh) return void res.endWithoutBody()
    if (gzip) res.writeHeader('content-encoding', 'gzip')
    res.end(gzip ? a.gz : a.body)
  })
}

const JS = 'application/javascript; charset=utf-8'
const HTML = 'text/html; charset=utf-8'
const PAGE_HEADERS: [string, string][] = [
  ['content-security-policy', "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'self'"],
  ['referrer-policy', 'no-referrer'],
]

export function registerWebRoutes(app: TemplatedApp, files: { widget: string; console: string } = WEB_BUNDLES): void {
  const widget = readBundle(files.widget)
  const consoleJs = readBundle(files.console)
  const routes: [string, Asset | null][] = [
    ['/widget.js', widget === null ? null : asset(widget, JS, [['access-control-allow-origin', '*'], ['cross-origin-resource-policy', 'cross-origin']])],
    ['/console.js', consoleJs === null ? null : asset(consoleJs, JS)],
    ['/console', asset(Buffer.from(CONSOLE_HTML), HTML, PAGE_HEADERS)],
    ['/demo', asset(Buffer.from(DEMO_HTML), HTML, PAGE_HEADERS)],
    ['/demo/site', asset(Buffer.from(DEMO_SITE_HTML), HTML, PAGE_HEADERS)],
  ]
  for (const [path, a] of routes) {
    app.get(path, (res, req) => {
      if (a === null) return sendJson(res, track(res), '404 Not Found', { error: { code: 'not_found', message: `${path} is not built: run npm run build` } })
      serve(res, req.getHeader('if-none-match'), req.getHeader('accept-encoding'), a)
    })
  }
}
