// Message ids (Redis Stream ids "<ms>-<seq>") compared as numbers, and fresh echoIds.

/** <0 when a is before b; ids are decimal "<ms>-<seq>" strings, compared without BigInt. */
export function compareIds(a: string, b: string): number {
  const i = a.indexOf('-')
  const j = b.indexOf('-')
  return cmpNum(a.slice(0, i), b.slice(0, j)) || cmpNum(a.slice(i + 1), b.slice(j + 1))
}

function cmpNum(x: string, y: string): number {
  return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0
}

type CryptoLike = { getRandomValues?(a: Uint8Array): Uint8Array }

/** 128 random bits, hex: crypto.getRandomValues where there is one (browsers, Node 20). */
export function newEchoId(): string {
  const bytes = new Uint8Array(16)
  const c = (globalThis as { crypto?: CryptoLike }).crypto
  if (c?.getRandomValues !== undefined) c.getRandomValues(bytes)
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256)
  let s = 'e_'
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16)
  return s
}
