// A real local Redis Cluster for tests (engine/embedded/cluster.ts): 3 masters + 3 replicas on
// free ports in a temp folder, every replica synced, stopped and removed by t.teardown.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisCluster, type LocalCluster } from '../../engine/embedded/cluster.js';
import { freePort, isPortFree } from '../../engine/embedded/ports.js';
import type { TeardownHost } from './stack.js';

export type TestCluster = LocalCluster & {
  /** one plain connection per node (commandstats, CLUSTER NODES, CLIENT KILL…), closed on teardown */
  node(i: number): Redis;
  /** the nodes that are masters now */
  masters(): Promise<number[]>;
};

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const p = await freePort();
    if (!ports.has(p) && (await isPortFree(p))) ports.add(p);
  }
  return [...ports];
}

export async function startTestCluster(t: TeardownHost, opts: { masters?: number } = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'parley-cluster-'));
  const conns = new Map<number, Redis>();
  let cluster: LocalCluster | undefined;
  t.teardown(async () => {
    for (const c of conns.values()) c.disconnect();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const ports = await distinctFreePorts(masters * 4);
  cluster = await startRedisCluster({
    dir, masters, replicasPerMaster: 1,
    ports: Array.from({ length: masters * 2 }, (_, i) => ({ port: ports[2 * i] as number, busPort: ports[2 * i + 1] as number })),
  });
  const started = cluster;
  const node = (i: number): Redis => {
    let c = conns.get(i);
    if (c === undefined) {
      const n = started.nodes[i];
      if (n === undefined) throw new Error(`no cluster node ${i}`);
      c = new Redis(n.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      conns.set(i, c);
    }
    return c;
  };
  const masterNodes = async () => {
    const out: number[] = [];
    for (let i = 0; i < started.nodes.length; i++) {
      const role = await node(i).info('replication').then((s) => /^role:(\w+)/m.exec(s)?.[1]).catch(() => 'down');
      if (role === 'master') out.push(i);
    }
    return out;
  };
  return { ...started, node, masters: masterNodes };
}
