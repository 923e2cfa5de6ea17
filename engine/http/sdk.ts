// GET /sdk.js: the browser client SDK (engine/client/, bundled by `npm run build`, global `Parley`).
// Read once at startup; answered with a strong ETag (If-None-Match → 304), a short public cache
// that revalidates, gzip when the client accepts it, and CORS open (it is public code).
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { TemplatedApp } from 'uWebSockets.js'
import { sendJson, track } from './respond.js'

export const SDK_BUNDLE = fileURLToPath(new URL('../client/parley.min.js', import.meta.url))

export function registerSdkRoute(app: TemplatedApp, file = SDK_BUNDLE): void {
  let body: Buffer | null = null
  try {
    body = readFileSync(file)
  } catch {
    body = null // not built (tsc without the bundle step): answer 404 rather than fail to start
  }
  const gz = body === null ? null : gzipSync(body, { level: 9 })
  const etag = body === null ? '' : `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
  app.get('/sdk.js', (res, req) => {
    const state = track(res)
    if (body === null || gz === null) {
      sendJson(res, state, '404 Not Found', { error: { code: 'not_found', message: 'the SDK bundle is not built: run npm run build' } })
      return
    }
    const inm = req.getHeader('if-none-match')
    const gzip = /\bgzip\b/.test(req.getHeader('accept-encoding'))
    const payload = gzip ? gz : body
    res.cork(() => {
      res.writeStatus(inm !== '' && inm.split(/\s*,\s*/).includes(etag) ? '304 Not Modified' : '200 OK')
        .writeHeader('content-type', 'application/javascript; charset=utf-8')
        .writeHeader('cache-control', 'public, max-age=300, stale-while-revalidate=86400')
        .writeHeader('etag', etag)
        .writeHeader('vary', 'accept-encoding')
        .writeHeader('access-control-allow-origin', '*')
        .writeHeader('x-content-type-options', 'nosniff')
      if (gzip) res.writeHeader('content-encoding', 'gzip')
      if (inm !== '' && inm.split(/\s*,\s*/).includes(etag)) res.endWithoutBody()
      else res.end(payload)
    })
  })
}
