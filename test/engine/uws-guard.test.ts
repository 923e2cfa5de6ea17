import t from 'tap'
import { isNativeUws, loadNativeUws } from '../../engine/uws.js'
import { runEngineToExit } from '../helpers/engine.js'

t.test('the native binary loads here', async (t) => {
  const uws = loadNativeUws()
  t.equal(isNativeUws(uws), true)
})

t.test('the pure-JS fallback is recognised as not native', async (t) => {
  const { createRequire } = await import('node:module')
  const fallback: unknown = createRequire(import.meta.url)('uWebSockets.js/dist/index')
  t.equal(isNativeUws(fallback), false)
  t.equal(isNativeUws(null), false)
  t.equal(isNativeUws({ App: () => null }), false)
})

t.test('the engine refuses to start on the fallback, with a clear error', async (t) => {
  const r = await runEngineToExit({
    UWS_USE_FALLBACK: '1', REDIS_URL: 'redis://127.0.0.1:1', ADMIN_TOKEN: 'x'.repeat(20), PORT: '0',
  })
  t.equal(r.code, 3)
  t.match(r.output, /did not load its native binary/)
  t.match(r.output, /refusing to start/)
})

t.test('bad configuration: every problem printed, exit 2', async (t) => {
  const r = await runEngineToExit({ REDIS_URL: '', ADMIN_TOKEN: '', PORT: 'x' })
  t.equal(r.code, 2)
  t.match(r.output, /REDIS_URL .*is required/)
  t.match(r.output, /ADMIN_TOKEN is required/)
  t.match(r.output, /PORT must be an integer/)
})
