// Decoding of untrusted client frames and encoding of server frames, for both sub-protocols.
import { Packr, Unpackr } from 'msgpackr'
import type { ClientFrame, Codec, ErrorCode, ServerFrame } from './protocol.js'

// Client msgpack is hostile input: no records, no structured clone, maps as plain objects; the
// result is then checked to hold only plain JSON-like values (no Error/RegExp/Set/typed arrays).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false, int64AsType: 'string' })
// "as msgpackr writes it with default options, no records/structures extension"
const packr = new Packr({ useRecords: false })

const MAX_DEPTH = 8

export type DecodeResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; ref: number | null; garbage: boolean }

/** Frames keep only plain data; `__proto__`/`constructor`/`prototype` keys are dropped. */
function sanitize(value: unknown, depth: number): { ok: true; value: unknown } | { ok: false } {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return { ok: true, value }
  if (typeof value === 'number') return Number.isFinite(value) ? { ok: true, value } : { ok: false }
  if (depth > MAX_DEPTH) return { ok: false }
  if (Array.isArray(value)) {
    const out: unknown[] = []
    for (const item of value) {
      const r = sanitize(item, depth + 1)
      if (!r.ok) return r
      out.push(r.value)
    }
    return { ok: true, value: out }
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (k === '__proto__' || k === '__proto_' || k === 'constructor' || k === 'prototype') continue
      const r = sanitize(v, depth + 1)
      if (!r.ok) return r
      out[k] = r.value
    }
    return { ok: true, value: out }
  }
  return { ok: false }
}

function fail(code: ErrorCode, message: string, ref: number | null, garbage: boolean): DecodeResult {
  return { ok: false, code, message, ref, garbage }
}

export function decodeFrame(data: ArrayBuffer, isBinary: boolean, codec: Codec, maxFrameBytes: number): DecodeResult {
  if (data.byteLength > maxFrameBytes) return fail('too_large', `frame is ${data.byteLength} bytes, over the ${maxFrameBytes} limit`, null, false)
  let raw: unknown
  try {
    if (codec === 'json') {
      if (isBinary) return fail('bad_request', 'this connection speaks parley.v1.json: send text frames', null, true)
      raw = JSON.parse(Buffer.from(data).toString('utf8'))
    } else {
      if (!isBinary) return fail('bad_request', 'this connection speaks parley.v1.msgpack: send binary frames', null, true)
      raw = unpackr.unpack(Buffer.from(data))
    }
  } catch {
    return fail('bad_request', `frame is not valid ${codec === 'json' ? 'JSON' : 'MessagePack'}`, null, true)
  }
  const clean = sanitize(raw, 0)
  if (!clean.ok) return fail('bad_request', `frame holds a value that is not plain data or nests deeper than ${MAX_DEPTH}`, null, true)
  const obj = clean.value
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return fail('bad_request', 'a frame must be one object', null, true)
  const fields = obj as Record<string, unknown>
  const rawRef = fields['ref']
  let ref: number | null = null
  if (rawRef !== undefined && rawRef !== null) {
    if (typeof rawRef !== 'number' || !Number.isSafeInteger(rawRef) || rawRef < 0) {
      return fail('bad_request', '`ref` must be a non-negative integer', null, false)
    }
    ref = rawRef
  }
  const op = fields['op']
  if (typeof op !== 'string' || op.length === 0 || op.length > 64) return fail('bad_request', '`op` must be a non-empty string', ref, true)
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
