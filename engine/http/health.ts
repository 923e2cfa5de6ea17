import type { TemplatedApp } from 'uWebSockets.js'
import type { Metrics } from '../metrics.js'
import { sendJson, track } from './respond.js'

/** /healthz (process alive), /readyz (Redis answers, not draining), /metrics (Prometheus). */
export function registerHealthRoutes(app: TemplatedApp, deps: { metrics: Metrics; checkReady: () => Promise<boolean> }): void {
  app.get('/healthz', (res) => {
    sendJson(res, track(res), '200 OK', { status: 'ok' })
  })
  // readable cross-origin: the browser SDK asks it to tell a refused upgrade from an engine not ready
  app.get('/readyz', (res) => {
    const state = track(res)
    const answer = (ready: boolean) => {
      if (state.aborted) return
      res.cork(() => {
        res.writeStatus(ready ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json')
          .writeHeader('access-control-allow-origin', '*').writeHeader('cache-control', 'no-store').end(JSON.stringify({ ready }))
      })
    }
    deps.checkReady().then(answer, () => answer(false))
  })
  app.get('/metrics', (res) => {
    const state = track(res)
    deps.metrics.registry.metrics().then((text) => {
      if (state.aborted) return
      res.cork(() => {
        res.writeStatus('200 OK').writeHeader('content-type', deps.metrics.registry.contentType).end(text)
      })
    }, () => sendJson(res, state, '500 Internal Server Error', { error: { code: 'internal', message: 'metrics failed' } }))
  })
}
