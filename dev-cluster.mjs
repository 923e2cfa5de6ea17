import { startRedisCluster } from './dist/engine/embedded/cluster.js'
import { freePort } from './dist/engine/embedded/ports.js'
const ports = []
for (let i = 0; i < 12; i++) ports.push(await freePort())
const c = await startRedisCluster({ dir: '/tmp/clx/dev', masters: 3, ports: Array.from({ length: 6 }, (_, i) => ({ port: ports[2*i], busPort: ports[2*i+1] })) })
console.log(c.seeds)
process.on('SIGTERM', async () => { await c.stop(); process.exit(0) })
setInterval(() => {}, 1000)
