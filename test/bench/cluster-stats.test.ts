// The pure pieces of the bench's cluster mode: --redis parsing, INFO parsing, per-node figures
// (CPU per message, load share, what a core per master carries) and the partition spread.
import t from 'tap'
import { DEFAULT_PARTITIONS, partitionOf } from '../../lua/keys.js'
import { newId } from '../../engine/ids.js'
import { mastersCpu, nodeFigures, parseCommandStats, parseCpuSeconds, projectedRate, type NodeSample } from '../../bench/lib/nodestats.js'
import { accountsInPartitions, partitionPicker } from '../../bench/lib/partitions.js'
import { modeLabel, parseRedisModes } from '../../bench/lib/store.js'

t.test('--redis: modes in turn; both = single then cluster; cluster-wait has a replica and REDIS_WAIT_REPLICAS 1', async (t) => {
  const d = { masters: 3, replicas: 0 }
  t.same(parseRedisModes('single', d), [{ kind: 'single' }])
  t.same(parseRedisModes('both', d), [{ kind: 'single' }, { kind: 'cluster', masters: 3, replicas: 0, waitReplicas: 0 }])
  t.same(parseRedisModes('cluster,cluster-wait', d).map(modeLabel), ['cluster 3×0', 'cluster 3×1 wait 1'])
  t.same(parseRedisModes('cluster-wait', { masters: 3, replicas: 2 }).map(modeLabel), ['cluster 3×2 wait 1'])
  t.throws(() => parseRedisModes('sentinel', d), /not single, cluster/)
  t.throws(() => parseRedisModes('', d), /no mode/)
  t.throws(() => parseRedisModes('cluster', { masters: 0, replicas: 0 }), /--masters/)
})

t.test('INFO: commandstats per command and used CPU', async (t) => {
  const stats = '# Commandstats\r\ncmdstat_evalsha:calls=120,usec=6000,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\ncmdstat_xadd:calls=120,usec=600,usec_per_call=5.00\r\n'
  t.same(parseCommandStats(stats), { evalsha: { calls: 120, usec: 6000 }, xadd: { calls: 120, usec: 600 } })
  t.equal(parseCpuSeconds('# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500000\r\nused_cpu_sys_children:9.0\r\n'), 3.75)
})

const sample = (port: number, role: NodeSample['role'], cpuSeconds: number, evalsha: number): NodeSample =>
  ({ port, role, cpuSeconds, commands: evalsha === 0 ? {} : { evalsha: { calls: evalsha, usec: evalsha * 40 } } })

t.test('per node: CPU per message of the run and per own message, shares over masters only', async (t) => {
  // 10 s, 30,000 messages: masters split them 1/2, 1/4, 1/4 and use 1.0, 0.5, 0.5 cores; a replica 0.2
  const before = [sample(1, 'master', 100, 1000), sample(2, 'master', 50, 0), sample(3, 'master', 0, 0), sample(4, 'replica', 5, 0)]
  const after = [sample(1, 'master', 110, 16_000), sample(2, 'master', 55, 7500), sample(3, 'master', 5, 7500), sample(4, 'replica', 7, 0)]
  const nodes = nodeFigures(before, after, 10, 30_000)
  t.same(nodes.map((n) => n.cpu), [1, 0.5, 0.5, 0.2])
  t.same(nodes.map((n) => n.usPerMsg), [333.3, 166.7, 166.7, 66.7], 'µs of each node per message of the run')
  t.same(nodes.map((n) => n.usPerOwnMsg), [666.7, 666.7, 666.7, null], 'each master costs the same per message it carries')
  t.same(nodes.map((n) => n.evalshaShare), [0.5, 0.25, 0.25, 0])
  t.same(nodes.map((n) => n.cpuShare), [0.5, 0.25, 0.25, 0], 'replica CPU is not in the masters\' shares')
  t.same(nodes.map((n) => n.evalshaCalls), [15_000, 7500, 7500, 0])
  t.equal(nodes[0]?.evalshaUsPerCall, 40)
  t.equal(nodes[3]?.evalshaUsPerCall, null)
  t.equal(mastersCpu(nodes), 2, 'the run\'s Redis CPU is the masters\' sum')
  // 3,000 msg/s; a master carries 1,500 msg/s per core; the busiest (1 core) caps the split as measured
  t.same(projectedRate(nodes, 3000), { perCore: [1500, 1500, 1500], busiestBound: 3000, sumPerCore: 4500 })
  t.throws(() => nodeFigures(before, [...after].reverse(), 10, 1), /do not match/)
  t.equal(projectedRate(nodeFigures(before, before, 10, 0), 0), null, 'no work, no projection')
})

t.test('partitions: accounts in distinct partitions of DEFAULT_PARTITIONS, every one when asked for all', async (t) => {
  const all = accountsInPartitions(DEFAULT_PARTITIONS, () => newId('a'))
  t.same(all.map((a) => a.partition), Array.from({ length: DEFAULT_PARTITIONS }, (_, i) => i))
  for (const a of all) t.equal(partitionOf(a.accountId, DEFAULT_PARTITIONS), a.partition)
  const picker = partitionPicker(2)
  const ids = Array.from({ length: 50 }, () => newId('a'))
  const kept = ids.filter((id) => picker.offer(id))
  t.equal(kept.length, 2)
  t.ok(picker.done())
  t.not(partitionOf(kept[0]!, DEFAULT_PARTITIONS), partitionOf(kept[1]!, DEFAULT_PARTITIONS))
  t.equal(accountsInPartitions(500, () => newId('a')).length, DEFAULT_PARTITIONS, 'capped at the partition count')
  t.throws(() => partitionPicker(0), /≥ 1/)
})
