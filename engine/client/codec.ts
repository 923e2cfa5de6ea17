// The default codec: parley.v1.json, text frames.
import type { Codec } from './types.js'

const decoder = typeof TextDecoder === 'undefined' ? null : new TextDecoder()

export const jsonCodec: Codec = {
  subprotocol: 'parley.v1.json',
  encode: (frame) => JSON.stringify(frame),
  decode: (data) => JSON.parse(typeof data === 'string' ? data : decoder!.decode(data)) as unknown,
}
