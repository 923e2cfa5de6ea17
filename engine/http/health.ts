import type { TemplatedApp } from 'uWebSockets.js'
import type { Metrics } from '../metrics.js'
import { sendJson, track } from './respond.js'

/** /healthz (process alive), /readyz (Redis answers, not draining), /metrics (Prometheus). */
export function registerHealthRoutes(app: TemplatedApp, deps: { metrics: Metrics; checkReady: () => Promise<boolean> }): void {
  app.get('/healthz', (res) => {
    sendJson(res, track(res), '200 OK', { status: 'ok' })
  })
  app.get('/readyz', (res) => {
    const state = track(res)
    deps.checkReady().then(
      (ready) => sendJson(res, state, ready ? '200 OK' : '503 Service Unavailable', { ready }),
      () => sendJson(res, state, '503 Service Unavailable', { ready: false }),
    )
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
