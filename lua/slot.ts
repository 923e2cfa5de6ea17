// Redis Cluster's key slot (CRC16/XMODEM of the hash tag, mod 16384) and the partition tags built
// on it: partition i's tag is searched, deterministically, so that it hashes to the slot whose 14
// bits are i's reversed (the van der Corput sequence). For PARTITIONS = 2^k the partitions sit on
// exactly evenly spaced slots (a multiple of 16384/2^k each), so any contiguous split of the slots
// into N equal ranges (`redis-cli --cluster create`, N masters) holds ⌊P/N⌋ or ⌈P/N⌉ of them, and
// growing the cluster moves slots, never renames a partition. A tag does not depend on PARTITIONS.

export const SLOTS = 16384

const TABLE = (() => {
  const t = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 8
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
    t[i] = c
  }
  return t
})()

/** CRC16/XMODEM over the UTF-8 bytes of `text` (tags are ASCII). */
export function crc16(text: string): number {
  let c = 0
  for (const byte of Buffer.from(text, 'utf8')) c = ((c << 8) & 0xffff) ^ (TABLE[((c >> 8) ^ byte) & 0xff] as number)
  return c
}

/** The cluster slot of a key: its hash tag's (the first non-empty `{…}`) or the whole key's. */
export function keySlot(key: string): number {
  const open = key.indexOf('{')
  if (open >= 0) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % SLOTS
  }
  return crc16(key) % SLOTS
}

/** The slot partition `i` is placed on: i's 14 low bits reversed. */
export function partitionSlot(i: number): number {
  let r = 0
  for (let b = 0; b < 14; b++) if (i & (1 << b)) r |= 1 << (13 - b)
  return r
}

const tags: string[] = []

/** The text inside partition i's hash tag: `p<i>.<k>` with the first base-36 k landing on its slot. */
export function partitionTagText(i: number): string {
  const known = tags[i]
  if (known !== undefined) return known
  const target = partitionSlot(i)
  for (let k = 0; ; k++) {
    const text = `p${i}.${k.toString(36)}`
    if (crc16(text) % SLOTS === target) {
      tags[i] = text
      return text
    }
  }
}
