// Partition tags: Redis Cluster's slot function, and the spread of the partitions over any number
// of masters under the contiguous split `redis-cli --cluster create` makes.
import t from 'tap'
import { DEFAULT_PARTITIONS, hashTagOf, keysFor, tag } from '../../lua/keys.js'
import { crc16, keySlot, partitionSlot, SLOTS } from '../../lua/slot.js'

/** redis-cli's split of 16384 slots over n masters: the first slot of each master. */
function splitStarts(n: number): number[] {
  const per = SLOTS / n
  const starts: number[] = []
  let cursor = 0
  for (let i = 0; i < n; i++) {
    starts.push(i === 0 ? 0 : Math.round(cursor))
    cursor += per
  }
  return starts
}

function perMaster(partitions: number, masters: number): number[] {
  const starts = splitStarts(masters)
  const counts = new Array<number>(masters).fill(0)
  for (let p = 0; p < partitions; p++) {
    const slot = keySlot(keysFor(p).events)
    let m = masters - 1
    while ((starts[m] as number) > slot) m--
    counts[m] = (counts[m] as number) + 1
  }
  return counts
}

t.test('crc16 and keySlot match Redis', async (t) => {
  t.equal(crc16('123456789'), 0x31c3, 'CRC16/XMODEM check value')
  t.equal(keySlot('foo'), 12182)
  t.equal(keySlot('somekey'), 11058)
  t.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'))
  t.equal(keySlot('foo{}{bar}'), keySlot('foo{}{bar}'.slice(0)), 'an empty tag hashes the whole key')
  t.equal(keySlot('foo{}{bar}'), crc16('foo{}{bar}') % SLOTS)
})

t.test('each partition sits on its slot; tags do not depend on PARTITIONS', async (t) => {
  for (let p = 0; p < 1024; p += 7) {
    const k = keysFor(p)
    t.equal(keySlot(k.events), partitionSlot(p))
    t.equal(hashTagOf(k.events), tag(p).slice(1, -1))
    t.ok(k.events.startsWith(`{p${p}.`), 'the partition number stays readable')
  }
  const slots = new Set(Array.from({ length: 1024 }, (_, p) => partitionSlot(p)))
  t.equal(slots.size, 1024, 'no two partitions share a slot')
})

t.test(`PARTITIONS=${DEFAULT_PARTITIONS} spreads within one partition of even over 1..32 masters`, async (t) => {
  for (let n = 1; n <= 32; n++) {
    const counts = perMaster(DEFAULT_PARTITIONS, n)
    t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${n} masters: ${counts.join('/')}`)
    t.equal(counts.reduce((a, b) => a + b, 0), DEFAULT_PARTITIONS)
  }
  t.same(perMaster(DEFAULT_PARTITIONS, 3).sort(), [21, 21, 22])
  t.same(perMaster(DEFAULT_PARTITIONS, 32), new Array(32).fill(2))
  for (const p of [16, 128, 256]) {
    for (const n of [3, 5, 6, 12, 32]) {
      const counts = perMaster(p, n)
      t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `PARTITIONS=${p} on ${n} masters: ${counts.join('/')}`)
    }
  }
})
