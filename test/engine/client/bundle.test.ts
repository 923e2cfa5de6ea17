// The browser build: the real bundle (npm run build → dist/engine/client/parley.min.js) is at most
// 10 KiB minified + gzip -9 and has no msgpack in it; the engine serves it at GET /sdk.js with a
// JavaScript content type, caching headers, an ETag (304 on a match) and gzip; and the served code,
// evaluated as a page would (a fresh global with only a WebSocket), talks to a real engine.
import { readFileSync } from 'node:fs'
import { gunzipSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { SDK_BUNDLE } from '../../../engine/http/sdk.js'
import { pageWith, sdkStack } from './fixture.js'

const LIMIT = 10 * 1024

t.test('size: ≤ 10 KiB minified and gzip -9, without msgpack', async (t) => {
  const code = readFileSync(SDK_BUNDLE)
  const gz = gzipSync(code, { level: 9 }).length
  t.comment(`bundle ${code.length} bytes, ${gz} bytes gzip -9`)
  t.ok(gz <= LIMIT, `${gz} ≤ ${LIMIT}`)
  t.notMatch(code.toString(), /msgpackr|Unpackr/, 'msgpack is not in the default bundle')
  t.notMatch(code.toString(), /require\(|from"ws"|node:/, 'no Node modules in the browser build')
})

t.test('GET /sdk.js', async (t) => {
  const s = await sdkStack(t)
  const file = readFileSync(SDK_BUNDLE)
  const res = await fetch(`${s.engine.http}/sdk.js`, { headers: { 'accept-encoding': 'identity' } })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'application/javascript; charset=utf-8')
  t.match(res.headers.get('cache-control'), /public, max-age=\d+/)
  t.equal(res.headers.get('access-control-allow-origin'), '*')
  const etag = res.headers.get('etag') ?? ''
  t.match(etag, /^"[A-Za-z0-9_-]{22}"$/)
  t.same(Buffer.from(await res.arrayBuffer()), file, 'the built bundle, byte for byte')
  const again = await fetch(`${s.engine.http}/sdk.js`, { headers: { 'if-none-match': etag } })
  t.equal(again.status, 304, 'a matching If-None-Match is 304')
  t.equal((await again.arrayBuffer()).byteLength, 0, 'without a body')
  t.equal((await fetch(`${s.engine.http}/sdk.js`, { headers: { 'if-none-match': '"other"' } })).status, 200)
  // raw gzip as a browser asks for it (undici would decode it silently)
  const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    import('node:http').then(({ get }) => get(`${s.engine.http}/sdk.js`, { headers: { 'accept-encoding': 'gzip, br' } }, (r) => {
      const chunks: Buffer[] = []
      r.on('data', (c: Buffer) => chunks.push(c))
      r.on('end', () => resolve({ headers: r.headers, body: Buffer.concat(chunks) }))
    }).on('error', reject), reject)
  })
  t.equal(raw.headers['content-encoding'], 'gzip')
  t.equal(raw.headers['vary'], 'accept-encoding')
  t.same(gunzipSync(raw.body), file, 'gzip decodes to the bundle')
  // the SDK's refusal probe reads /readyz from the embedding site's origin
  const ready = await fetch(`${s.engine.http}/readyz`, { headers: { origin: 'http://shop.example' } })
  t.equal(ready.status, 200)
  t.equal(ready.headers.get('access-control-allow-origin'), '*', '/readyz is readable cross-origin')
  t.equal(ready.headers.get('cache-control'), 'no-store')
  t.same(await ready.json(), { ready: true })
})

t.test('the served bundle runs as a page would run it', async (t) => {
  const s = await sdkStack(t)
  const code = await (await fetch(`${s.engine.http}/sdk.js`)).text()
  const { Parley, store } = pageWith(code)
  t.type(Parley.createWidgetClient, 'function', 'global Parley')
  const widget = Parley.createWidgetClient({ url: s.engine.http, websiteToken: s.tenant.inbox['websiteToken'] as string })
  t.teardown(() => widget.close())
  await widget.whenSynced()
  const conv = await widget.openConversation()
  const m = await widget.send(conv.id, 'from the bundle')
  t.equal(m.content, 'from the bundle')
  t.ok([...store.keys()].some((k) => k.endsWith(':session')), 'the session went to localStorage')
})
