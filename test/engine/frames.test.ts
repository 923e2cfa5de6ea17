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

t.test('garbage and wrong shapes are bad_request, flagged as garbage', async (t) => {
  for (const text of ['not json', '[1,2]', '"str"', '{"ref":1}', '{"op":""}', '{"op":5}']) {
    const r = decodeFrame(buf(text), false, 'json', LIMIT)
    t.equal(r.ok, false, text)
    if (!r.ok) {
      t.equal(r.code, 'bad_request')
      t.equal(r.garbage, true)
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
