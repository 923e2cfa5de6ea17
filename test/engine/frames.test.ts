import t from 'tap'
import { Packr } from 'msgpackr'
import { decodeFrame, encodeFrame } from '../../engine/frames.js'

const buf = (s: string) => { const b = Buffer.from(s); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer }
const ab = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer
const LIMIT = 4096

t.test('a JSON frame decodes with op and ref', async (t) => {
  const r = decodeFrame(buf('{"op":"ping","ref":7,"x":[1,{"y":true}]}'), false, 'json', LIMIT)
  t.same(r, { ok: true, frame: { op: 'ping', ref: 7, x: [1, { y: true }] } })
})

t.test('garbage and wrong shapes are bad_request; only what is not one object is garbage (issue 10)', async (t) => {
  for (const text of ['not json', '[1,2]', '"str"', '{"ref":1}', '{"op":""}', '{"op":5}']) {
    const r = decodeFrame(buf(text), false, 'json', LIMIT)
    t.equal(r.ok, false, text)
    if (!r.ok) {
      t.equal(r.code, 'bad_request')
      t.equal(r.garbage, !text.startsWith('{'), `${text}: garbage only when it is not one object`)
    }
  }
})

t.test('a bad ref is bad_request with ref null', async (t) => {
  for (const ref of ['-1', '1.5', '"a"']) {
    const r = decodeFrame(buf(`{"op":"ping","ref":${ref}}`), false, 'json', LIMIT)
    t.match(r, { ok: false, code: 'bad_request', ref: null })
  }
})

t.test('the op echoes the ref when the rest is wrong', async (t) => {
  const r = decodeFrame(buf('{"op":7,"ref":3}'), false, 'json', LIMIT)
  t.match(r, { ok: false, ref: 3 })
})

t.test('over maxFrameBytes is too_large', async (t) => {
  const r = decodeFrame(buf(`{"op":"ping","pad":"${'x'.repeat(LIMIT)}"}`), false, 'json', LIMIT)
  t.match(r, { ok: false, code: 'too_large', garbage: false })
})

t.test('__proto__ and constructor keys never reach the frame', async (t) => {
  const r = decodeFrame(buf('{"op":"ping","__proto__":{"polluted":1},"a":{"constructor":{"x":1},"__proto__":{"p":2}}}'), false, 'json', LIMIT)
  t.equal(r.ok, true)
  if (!r.ok) return
  t.equal(Object.getPrototypeOf(r.frame), Object.prototype)
  t.equal(({} as Record<string, unknown>)['polluted'], undefined)
  t.same(r.frame['a'], {})
})

t.test('deep nesting is refused', async (t) => {
  const deep = '{"op":"x","a":' + '['.repeat(50) + ']'.repeat(50) + '}'
  t.match(decodeFrame(buf(deep), false, 'json', LIMIT), { ok: false, code: 'bad_request' })
})

t.test('msgpack: plain maps decode; extension types are refused', async (t) => {
  const packr = new Packr({ useRecords: false })
  t.match(decodeFrame(ab(packr.pack({ op: 'ping', ref: 1 })), true, 'msgpack', LIMIT), { ok: true, frame: { op: 'ping', ref: 1 } })
  const withRegExp = new Packr({ useRecords: false, moreTypes: true }).pack({ op: 'ping', r: /x/, e: new Error('x'), s: new Set([1]) })
  t.match(decodeFrame(ab(withRegExp), true, 'msgpack', LIMIT), { ok: false, code: 'bad_request' })
  t.match(decodeFrame(ab(Buffer.from([0xc1])), true, 'msgpack', LIMIT), { ok: false, code: 'bad_request', garbage: true })
  t.match(decodeFrame(ab(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])), true, 'msgpack', LIMIT), { ok: false, code: 'bad_request' })
})

t.test('frame type must match the sub-protocol', async (t) => {
  t.match(decodeFrame(buf('{"op":"ping"}'), true, 'json', LIMIT), { ok: false, code: 'bad_request' })
  t.match(decodeFrame(buf('{"op":"ping"}'), false, 'msgpack', LIMIT), { ok: false, code: 'bad_request' })
})

t.test('encodeFrame speaks both codecs', async (t) => {
  const frame = { op: 'event', type: 'x', data: { a: 1 } } as const
  t.equal(encodeFrame(frame, 'json'), JSON.stringify(frame))
  t.ok(Buffer.isBuffer(encodeFrame(frame, 'msgpack')))
})

// issue 10, item 2: a frame that decodes but fails validation is answered with its own ref
t.test('a decodable but invalid frame keeps its ref and is not garbage', async (t) => {
  const nest = (n: number): string => (n === 0 ? '1' : `{"a":${nest(n - 1)}}`)
  const cases: [string, RegExp][] = [
    [`{"op":"message.send","ref":11,"contentAttributes":${nest(9)}}`, /`contentAttributes\.a\.a\.a\.a\.a\.a\.a\.a` nests deeper than 8/],
    ['{"op":"history","ref":12,"limit":1e400}', /`limit` is not a finite number/],
    ['{"ref":13}', /`op` must be a non-empty string/],
    ['{"op":"","ref":14}', /`op`/],
    ['{"op":5,"ref":15,"x":[1e999]}', /`x\[0\]` is not a finite number/],
  ]
  for (const [text, message] of cases) {
    const r = decodeFrame(buf(text), false, 'json', LIMIT)
    t.match(r, { ok: false, code: 'bad_request', garbage: false, message }, text)
    t.equal(r.ok ? null : r.ref, JSON.parse(text.replace(/1e\d+/g, '0')).ref, `${text}: its ref`)
  }
  const packr = new Packr({ useRecords: false })
  const bin = decodeFrame(ab(packr.pack({ op: 'message.send', ref: 16, conversationId: 'cv_x', content: Buffer.from('hi') })), true, 'msgpack', LIMIT)
  t.match(bin, { ok: false, code: 'bad_request', ref: 16, garbage: false, message: /`content` is binary/ })
})

t.test('the depth limit: contentAttributes may nest 8 levels (itself included), not 9', async (t) => {
  const nest = (n: number): string => (n === 0 ? '1' : `{"a":${nest(n - 1)}}`)
  t.match(decodeFrame(buf(`{"op":"x","ref":1,"contentAttributes":${nest(8)}}`), false, 'json', LIMIT), { ok: true })
  t.match(decodeFrame(buf(`{"op":"x","ref":1,"contentAttributes":${nest(9)}}`), false, 'json', LIMIT), { ok: false, ref: 1 })
})

// issue 10, item 4: PostgreSQL text/jsonb cannot hold U+0000: refused, never changed
t.test('U+0000 and unpaired surrogates anywhere in a frame are bad_request with the ref', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ op: 'message.send', ref: 21, content: 'nul\u0000byte' }, /`content` holds U\+0000/],
    [{ op: 'message.send', ref: 22, content: 'x', contentAttributes: { a: [{ b: 'z\u0000' }] } }, /`contentAttributes\.a\[0\]\.b` holds U\+0000/],
    [{ op: 'contact.update', ref: 23, customAttributes: { 'k\u0000': 1 } }, /`customAttributes` has a key that holds U\+0000/],
    [{ op: 'message.send', ref: 24, content: 'half \ud83d pair' }, /`content` holds an unpaired UTF-16 surrogate/],
  ]
  for (const [frame, message] of cases) {
    // MessagePack carries strings as UTF-8, which cannot hold an unpaired surrogate
    for (const codec of message.source.includes('surrogate') ? ['json'] as const : ['json', 'msgpack'] as const) {
      const bytes = codec === 'json' ? buf(JSON.stringify(frame)) : ab(new Packr({ useRecords: false }).pack(frame))
      t.match(decodeFrame(bytes, codec === 'msgpack', codec, LIMIT), { ok: false, code: 'bad_request', ref: (frame as { ref: number }).ref, garbage: false, message }, `${codec} ${JSON.stringify(frame)}`)
    }
  }
  t.match(decodeFrame(buf(JSON.stringify({ op: 'message.send', ref: 25, content: 'emoji \ud83d\ude00 ok' })), false, 'json', LIMIT), { ok: true })
})

// msgpackr decodes invalid UTF-8 in a str as U+FFFD without a word: refused instead (issue 10, item 4)
t.test('msgpack: a str that is not valid UTF-8 is bad_request; a genuine U+FFFD is fine', async (t) => {
  const packr = new Packr({ useRecords: false })
  const good = packr.pack({ op: 'message.send', ref: 31, content: 'a\uFFFDb', contentAttributes: { 'k\uFFFD': 'v\uFFFD' } })
  t.match(decodeFrame(ab(good), true, 'msgpack', LIMIT), { ok: true, frame: { content: 'a\uFFFDb' } })
  // the same frame with the content's three bytes EF BF BD replaced by one invalid byte 0xff
  const marker = Buffer.from('a\uFFFDb')
  const at = good.indexOf(marker)
  const bad = Buffer.concat([good.subarray(0, at - 1), Buffer.from([0xa3, 0x61, 0xff, 0x62]), good.subarray(at + marker.length)])
  t.match(decodeFrame(ab(bad), true, 'msgpack', LIMIT), { ok: false, code: 'bad_request', ref: 31, garbage: false, message: /not valid UTF-8/ })
})
