// The optional msgpack codec (parley.v1.msgpack, binary frames), as `parley/client/msgpack`. Kept out
// of the default browser bundle: import it and pass it as `codec` to use it.
import { Packr, Unpackr } from 'msgpackr'
import type { Codec } from './types.js'

const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

export const msgpackCodec: Codec = {
  subprotocol: 'parley.v1.msgpack',
  encode: (frame) => packr.pack(frame),
  decode: (data) => {
    if (typeof data === 'string') throw new Error('parley.v1.msgpack: got a text frame')
    return unpackr.unpack(data instanceof Uint8Array ? data : new Uint8Array(data)) as unknown
  },
}
