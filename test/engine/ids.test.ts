// Ids from the pooled random source: well formed, 128 bits each, never repeated across pool refills.
import t from 'tap'
import { isId, newId, newUid } from '../../engine/ids.js'

t.test('ids and uids stay unique and well formed across many pool refills', async (t) => {
  const seen = new Set<string>()
  const n = 10_000 // 40 refills of the 256-id pool
  for (let i = 0; i < n; i++) {
    const uid = newUid()
    if (!/^[A-Za-z0-9_-]{22}$/.test(uid)) t.fail(`malformed uid ${uid}`)
    seen.add(uid)
  }
  t.equal(seen.size, n, 'no uid twice')
  const ids = Array.from({ length: 600 }, () => newId('cv'))
  t.ok(ids.every((id) => isId(id, 'cv')), 'conversation ids pass isId')
  t.equal(new Set(ids).size, ids.length)
  // every bit position varies: the pool hands out fresh bytes, not a repeated slice
  const bytes = ids.map((id) => Buffer.from(id.slice(3), 'base64url'))
  t.ok(bytes.every((b) => b.length === 16))
  let or = 0
  let and = 0xff
  for (const b of bytes) for (const x of b) { or |= x; and &= x }
  t.equal(or, 0xff)
  t.equal(and, 0)
})
