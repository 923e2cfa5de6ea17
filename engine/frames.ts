// Decoding of untrusted client frames and encoding of server frames, for both sub-protocols.
import { Packr, Unpackr } from 'msgpackr'
import type { ClientFrame, Codec, ErrorCode, ServerFrame } from './protocol.js'
import { textProblem } from './validate.js'

// Client msgpack is hostile input: no records, no structured clone, maps as plain objects; the
// result is then checked to hold only plain JSON-like values (no Error/RegExp/Set/typed arrays).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false, int64AsType: 'string' })
// "as msgpackr writes it with default options, no records/structures extension"
const packr = new Packr({ useRecords: false })

/** Objects and arrays nest at most this deep inside a frame (the frame object itself is depth 0). */
export const MAX_DEPTH = 8

export type DecodeResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; ref: number | null; garbage: boolean }

type Walk = { ok: true; value: unknown } | { ok: false; path: string[]; why: string }

function refuse(why: string): Walk {
  return { ok: false, path: [], why }
}

/** Walks up to the first failure, prefixing its path on the way back up. */
function under(key: string, r: Walk): Walk {
  if (!r.ok) r.path.unshift(key)
  return r
}

/**
 * Frames keep only plain data; `__proto__`/`constructor`/`prototype` keys are dropped. Every string
 * and key must be storable text (validate.ts textProblem), every number finite.
 */
function sanitize(value: unknown, depth: number, seen: { replacements: number }): Walk {
  if (value === null || typeof value === 'boolean') return { ok: true, value }
  if (typeof value === 'string') {
    const why = textProblem(value)
    if (why === null && value.includes(REPLACEMENT)) seen.replacements += countReplacements(value)
    return why === null ? { ok: true, value } : refuse(why)
  }
  if (typeof value === 'number') return Number.isFinite(value) ? { ok: true, value } : refuse('is not a finite number')
  if (Array.isArray(value) || (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)) {
    if (depth > MAX_DEPTH) return refuse(`nests deeper than ${MAX_DEPTH} objects/arrays`)
  }
  if (Array.isArray(value)) {
    const out: unknown[] = []
    for (let i = 0; i < value.length; i++) {
      const r = under(`[${i}]`, sanitize(value[i], depth + 1, seen))
      if (!r.ok) return r
      out.push(r.value)
    }
    return { ok: true, value: out }
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (k === '__proto__' || k === '__proto_' || k === 'constructor' || k === 'prototype') continue
      const keyWhy = textProblem(k)
      if (keyWhy !== null) return refuse(`has a key that ${keyWhy}`)
      if (k.includes(REPLACEMENT)) seen.replacements += countReplacements(k)
      const r = under(k, sanitize(v, depth + 1, seen))
      if (!r.ok) return r
      out[k] = r.value
    }
    return { ok: true, value: out }
  }
  if (value instanceof Uint8Array) return refuse('is binary (bin): send a string')
  return refuse('is not plain data (a MessagePack extension type)')
}

const REPLACEMENT = '\uFFFD'
const REPLACEMENT_UTF8 = Buffer.from(REPLACEMENT)

function countReplacements(s: string): number {
  let n = 0
  for (let i = s.indexOf(REPLACEMENT); i >= 0; i = s.indexOf(REPLACEMENT, i + 1)) n++
  return n
}

/**
 * msgpackr decodes a str holding invalid UTF-8 with U+FFFD in place of the bad bytes, silently. A
 * genuine U+FFFD is the bytes EF BF BD in the frame, so more U+FFFD in the decoded strings than
 * such byte runs in the frame means some were substituted (never a false alarm; a bin holding
 * EF BF BD can hide one).
 */
function substitutedUtf8(bytes: Buffer, decodedReplacements: number): boolean {
  let n = 0
  for (let i = bytes.indexOf(REPLACEMENT_UTF8); i >= 0 && n < decodedReplacements; i = bytes.indexOf(REPLACEMENT_UTF8, i + 3)) n++
  return n < decodedReplacements
}

function fail(code: ErrorCode, message: string, ref: number | null, garbage: boolean): DecodeResult {
  return { ok: false, code, message, ref, garbage }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * Decodes one client frame. Only what is not a frame at all — bytes that do not decode (not JSON /
 * MessagePack, the other sub-protocol's frame type) or decode to something other than one object —
 * is `garbage` (counted towards GARBAGE_LIMIT); an object that is wrong is answered with its own
 * `ref` whenever it carried a valid one, and never closes the socket.
 */
export function decodeFrame(data: ArrayBuffer, isBinary: boolean, codec: Codec, maxFrameBytes: number): DecodeResult {
  if (data.byteLength > maxFrameBytes) return fail('too_large', `frame is ${data.byteLength} bytes, over the ${maxFrameBytes} limit`, null, false)
  let raw: unknown
  const bytes = Buffer.from(data)
  try {
    if (codec === 'json') {
      if (isBinary) return fail('bad_request', 'this connection speaks parley.v1.json: send text frames', null, true)
      raw = JSON.parse(bytes.toString('utf8'))
    } else {
      if (!isBinary) return fail('bad_request', 'this connection speaks parley.v1.msgpack: send binary frames', null, true)
      raw = unpackr.unpack(bytes)
    }
  } catch {
    return fail('bad_request', `frame is not valid ${codec === 'json' ? 'JSON' : 'MessagePack'}`, null, true)
  }
  // not one object (an array, a scalar, msgpack's never-used 0xc1): not a frame at all, so garbage
  if (!isPlainObject(raw)) return fail('bad_request', 'a frame must be one object', null, true)
  // the ref first: every later refusal answers with it
  const rawRef = Object.hasOwn(raw, 'ref') ? raw['ref'] : undefined
  let ref: number | null = null
  if (rawRef !== undefined && rawRef !== null) {
    if (typeof rawRef !== 'number' || !Number.isSafeInteger(rawRef) || rawRef < 0) {
      return fail('bad_request', '`ref` must be a non-negative integer', null, false)
    }
    ref = rawRef
  }
  const seen = { replacements: 0 }
  const clean = sanitize(raw, 0, seen)
  if (!clean.ok) {
    const where = clean.path.length === 0 ? 'the frame' : `\`${clean.path.join('.').replaceAll('.[', '[')}\``
    return fail('bad_request', `${where} ${clean.why}`, ref, false)
  }
  if (codec === 'msgpack' && seen.replacements > 0 && substitutedUtf8(bytes, seen.replacements)) {
    return fail('bad_request', 'a string in the frame is not valid UTF-8', ref, false)
  }
  const fields = clean.value as Record<string, unknown>
  const op = fields['op']
  if (typeof op !== 'string' || op.length === 0 || op.length > 64) return fail('bad_request', '`op` must be a non-empty string', ref, false)
  return { ok: true, frame: { ...fields, op, ref } }
}

export function encodeFrame(frame: ServerFrame, codec: Codec): string | Buffer {
  return codec === 'json' ? JSON.stringify(frame) : packr.pack(frame)
}

/** A frame shared by every local subscriber of a topic, encoded at most once per codec, on demand. */
export type Payload = { json(): string; msgpack(): Buffer }

export function payloadOf(frame: ServerFrame): Payload {
  let json: string | undefined
  let msgpack: Buffer | undefined
  return { json: () => (json ??= JSON.stringify(frame)), msgpack: () => (msgpack ??= packr.pack(frame)) }
}

/** An event whose data is already JSON text (a fan-out notice): JSON clients get it as is. */
export function eventPayload(type: string, dataJson: string): Payload {
  let json: string | undefined
  let msgpack: Buffer | undefined
  return {
    json: () => (json ??= `{"op":"event","type":${JSON.stringify(type)},"data":${dataJson}}`),
    msgpack: () => (msgpack ??= packr.pack({ op: 'event', type, data: JSON.parse(dataJson) as unknown })),
  }
}
