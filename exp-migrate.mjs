import { Redis, Cluster } from 'ioredis'
const seeds = process.argv[2].split(',').map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) }))
const nodes = seeds.map((s) => new Redis(s.port, '127.0.0.1'))
const tag = '{exp1}'
const slot = Number(await nodes[0].call('CLUSTER', 'KEYSLOT', tag))
let src, dst
for (const n of nodes) { const r = await n.info('replication'); if (!/role:master/.test(r)) continue; const own = await n.call('CLUSTER', 'COUNTKEYSINSLOT', slot).catch(() => null); }
const slots = await nodes[0].call('CLUSTER', 'SLOTS')
const owner = slots.find(([a, b]) => slot >= a && slot <= b)[2][1]
src = nodes.find((n) => n.options.port === owner)
dst = nodes.find((n) => n.options.port !== owner && slots.some((r) => r[2][1] === n.options.port))
await src.del(`${tag}:a`, `${tag}:derived`)
await src.set(`${tag}:a`, '1'); await src.zadd(`${tag}:derived`, 1, 'x')
const sid = await src.call('CLUSTER', 'MYID'), did = await dst.call('CLUSTER', 'MYID')
await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sid)
await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', did)
await src.call('MIGRATE', '127.0.0.1', dst.options.port, '', 0, 5000, 'KEYS', `${tag}:derived`)
const lua = `redis.call('INCR', KEYS[1]); redis.call('ZADD', string.match(KEYS[1], '^({[^}]*})') .. ':derived', 2, 'y'); return 1`
try { console.log('eval', await src.eval(lua, 1, `${tag}:a`)) } catch (e) { console.log('eval error:', e.message) }
console.log('a on src after:', await src.get(`${tag}:a`))
console.log('derived on src:', await src.call('ZRANGE', `${tag}:derived`, 0, -1).catch((e) => e.message))
await src.call('MIGRATE', '127.0.0.1', dst.options.port, '', 0, 5000, 'KEYS', `${tag}:a`).catch((e) => console.log('migrate a:', e.message))
await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', did); await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', did)
for (const n of nodes) n.disconnect()
