// `npm start` composition root: with no REDIS_URL / DATABASE_URL it runs a
// local redis-server (EMBEDDED_REDIS_CLUSTER=3: a 3-master cluster) and postgres under <repo>/.data (reused by the next start),
// migrates, then runs one engine, one archiver and the webhook dispatcher. Ctrl-C stops them all, in order.
// A missing server binary runs the setup first (ensure-setup.ts); once the engine is ready the
// demo tenant is made or reused (demo.ts, DEMO=0 skips it) and the /demo URL printed.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { describeExit, spawnManaged, type ExitInfo, type ManagedChild } from './child.js';
import { ensureDemo } from './demo.js';
import { ensureServerBinaries } from './ensure-setup.js';
import { preferredOrFreePort } from './ports.js';
import { startPostgres } from './postgres.js';
import { startRedis } from './redis.js';
import { startRedisCluster } from './cluster.js';
import { findRepoRoot } from './repo-root.js';

const WORKER_STOP_MS = 10_000;
const DATABASE = 'parley';

const log = pino({ base: { svc: 'start', pid: process.pid } });
const env = process.env;
const root = findRepoRoot(import.meta.url);
const dataDir = join(root, '.data');

type Stoppable = { name: string; exited: Promise<ExitInfo>; stop(): Promise<unknown> };
const servers: Stoppable[] = [];
const workers: ManagedChild[] = [];
let stopping = false;

function envPort(name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name} must be a port number (1-65535), got "${raw}"`);
  }
  return port;
}

/** A URL safe to log: any password replaced. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable url)';
  }
}

/** Watches a long-running child: an exit we did not ask for stops everything. */
function watch(child: Stoppable): void {
  void child.exited.then((info) => {
    if (stopping) return;
    log.error({ child: child.name, exit: describeExit(info) }, `${child.name} stopped unexpectedly`);
    void shutdown(1, `${child.name} exited`);
  });
}

async function portFor(name: string, envName: string, fallback: number): Promise<number> {
  const preferred = envPort(envName, fallback);
  const { port, preferredWasBusy } = await preferredOrFreePort(preferred);
  if (preferredWasBusy) log.warn({ [envName]: preferred, port }, `${name}: port ${preferred} is busy, using ${port}`);
  return port;
}

async function embeddedRedis(): Promise<string> {
  const port = await portFor('redis', 'EMBEDDED_REDIS_PORT', 16379);
  const dir = join(dataDir, 'redis');
  const logFile = join(dataDir, 'redis.log');
  const redis = await startRedis({ dir, port, logFile });
  servers.push({ name: 'redis-server', exited: redis.exited, stop: redis.stop });
  watch({ name: 'redis-server', exited: redis.exited, stop: redis.stop });
  log.info({ url: redis.url, dir, logFile, pid: redis.pid }, `redis listening on ${redis.url}`);
  return redis.url;
}

/**
 * EMBEDDED_REDIS_CLUSTER=<masters>: a local cluster under .data/redis-cluster (one replica per
 * master) on EMBEDDED_REDIS_CLUSTER_PORT.. (default 17000; bus ports +10000). The ports are part of
 * the cluster's state (nodes.conf): a later start reuses them, so they must be free.
 */
async function embeddedCluster(raw: string): Promise<string> {
  const masters = Number(raw);
  if (!Number.isInteger(masters) || masters < 3 || masters > 16) {
    throw new Error(`EMBEDDED_REDIS_CLUSTER must be a number of masters from 3 to 16, got "${raw}"`);
  }
  const base = envPort('EMBEDDED_REDIS_CLUSTER_PORT', 17000);
  const ports = Array.from({ length: masters * 2 }, (_, i) => ({ port: base + i, busPort: base + 10000 + i }));
  if (ports.some((p) => p.busPort > 65535)) throw new Error('EMBEDDED_REDIS_CLUSTER_PORT is too high for its bus ports (+10000)');
  const dir = join(dataDir, 'redis-cluster');
  const cluster = await startRedisCluster({ dir, masters, replicasPerMaster: 1, ports, logs: true });
  for (const n of cluster.nodes) {
    servers.push({ name: `redis-server:${n.port}`, exited: n.exited, stop: n.stop });
    watch({ name: `redis-server:${n.port}`, exited: n.exited, stop: n.stop });
  }
  log.info({ nodes: cluster.seeds, dir }, `redis cluster of ${masters} masters + ${masters} replicas on ${cluster.seeds}`);
  return cluster.seeds;
}

async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const found = await sql`select 1 from pg_database where datname = ${name}`;
    if (found.length === 0) {
      await sql.unsafe(`create database "${name}"`);
      log.info({ database: name }, `created database ${name}`);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function embeddedPostgres(): Promise<string> {
  const port = await portFor('postgres', 'EMBEDDED_PG_PORT', 15432);
  const dir = join(dataDir, 'postgres');
  const logFile = join(dataDir, 'postgres.log');
  const pg = await startPostgres({ dir, port, logFile, log: (message) => log.warn(message) });
  servers.push({ name: 'postgres', exited: pg.exited, stop: pg.stop });
  watch({ name: 'postgres', exited: pg.exited, stop: pg.stop });
  await createDatabase(pg.url, DATABASE);
  const url = `postgres://postgres@127.0.0.1:${port}/${DATABASE}`;
  log.info(
    { url, dataDir: pg.dataDir, relocated: pg.relocated, runsAs: pg.user, logFile, pid: pg.pid },
    `postgres listening on ${url}`,
  );
  return url;
}

/** ADMIN_TOKEN from env, else .data/admin-token, else a new random one written there (0600). */
async function adminToken(): Promise<string> {
  const fromEnv = env.ADMIN_TOKEN?.trim();
  if (fromEnv) {
    log.info('ADMIN_TOKEN taken from the environment');
    return fromEnv;
  }
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) {
    const saved = (await readFile(file, 'utf8')).trim();
    if (saved) {
      log.info({ file }, `admin token read from ${file}`);
      return saved;
    }
  }
  const token = randomBytes(32).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  log.info({ file }, `generated an admin token; it is in ${file}`);
  return token;
}

function node(name: string, script: string, childEnv: NodeJS.ProcessEnv): ManagedChild {
  const path = join(root, script);
  if (!existsSync(path)) throw new Error(`${path} not found: run \`npm run build\` (npm start does)`);
  return spawnManaged({
    name,
    command: process.execPath,
    args: [path],
    env: childEnv,
    cwd: root,
    output: 'inherit',
    stopSignal: 'SIGTERM',
    stopTimeoutMs: WORKER_STOP_MS,
  });
}

async function start(): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  ensureServerBinaries(root, { redis: !env.REDIS_URL?.trim() && !env.REDIS_CLUSTER_NODES?.trim(), postgres: !env.DATABASE_URL?.trim() }, (m) => log.warn(m));
  const clusterMasters = env.EMBEDDED_REDIS_CLUSTER?.trim();
  const external = env.REDIS_URL?.trim() || env.REDIS_CLUSTER_NODES?.trim();
  const clusterSeeds = !external && clusterMasters ? await embeddedCluster(clusterMasters) : env.REDIS_CLUSTER_NODES?.trim() ?? '';
  const redisUrl = clusterSeeds !== '' ? '' : env.REDIS_URL?.trim() || (await embeddedRedis());
  if (external) log.info({ url: env.REDIS_URL ? safeUrl(redisUrl) : clusterSeeds }, 'using REDIS_URL / REDIS_CLUSTER_NODES; no embedded redis');
  if (stopping) return;
  const databaseUrl = env.DATABASE_URL?.trim() || (await embeddedPostgres());
  if (env.DATABASE_URL?.trim()) log.info({ url: safeUrl(databaseUrl) }, 'using DATABASE_URL; no embedded postgres');
  if (stopping) return;
  const token = await adminToken();
  const shared = { ...env, REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: clusterSeeds, DATABASE_URL: databaseUrl, ADMIN_TOKEN: token };

  const migrate = node('migrate', 'dist/archiver/migrate-cli.js', shared);
  const migrated = await migrate.exited;
  if (migrated.code !== 0) throw new Error(`migrations failed: migrate-cli ${describeExit(migrated)}`);
  if (stopping) return;

  const enginePort = envPort('PORT', 8080);
  const archiverPort = envPort('ARCHIVER_PORT', 8081);
  const engine = node('engine', 'dist/engine/main.js', { ...shared, PORT: String(enginePort) });
  workers.push(engine);
  watch(engine);
  const archiver = node('archiver', 'dist/archiver/main.js', { ...shared, ARCHIVER_PORT: String(archiverPort) });
  workers.push(archiver);
  watch(archiver);
  // the webhook dispatcher: another consumer group on the partition streams (archiver/webhooks/)
  const webhooksPort = envPort('WEBHOOKS_PORT', 8082);
  const webhooks = node('webhooks', 'dist/archiver/webhooks/main.js', { ...shared, WEBHOOKS_PORT: String(webhooksPort) });
  workers.push(webhooks);
  watch(webhooks);
  log.info({ webhooks: `http://127.0.0.1:${webhooksPort}` }, `webhook dispatcher on port ${webhooksPort} (pid ${webhooks.pid})`);
  log.info(
    { engine: `http://127.0.0.1:${enginePort}`, archiver: `http://127.0.0.1:${archiverPort}` },
    `engine on http://127.0.0.1:${enginePort} (pid ${engine.pid}), archiver on port ${archiverPort} (pid ${archiver.pid})`,
  );
  if (env.DEMO?.trim() === '0') return;
  const http = `http://127.0.0.1:${enginePort}`;
  const demo = await ensureDemo(http, token, join(dataDir, 'demo.json'));
  log.info({ created: demo.created, file: join(dataDir, 'demo.json') }, demo.created ? 'created the demo account, inbox and agent' : 'reusing the demo account, inbox and agent');
  // plain lines a person reads: where to click
  process.stdout.write(
    `\nParley is running. Open the demo (a website with the chat widget, and the agent console):\n  ${demo.url}\n` +
      `Console: ${http}/console (demo agent token in .data/demo.json)\n` +
      `Widget on any page: <script src="${http}/widget.js" data-website-token="${demo.demo.websiteToken}" async></script>\n` +
      `Ctrl-C stops everything.\n\n`,
  );
}

/** Engine and archiver first (SIGTERM, SIGKILL after 10 s), then postgres, then redis. */
async function stopAll(): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  for (const server of [...servers].reverse()) {
    try {
      await server.stop();
    } catch (err) {
      log.error({ err, server: server.name }, `stopping ${server.name} failed`);
    }
  }
}

let startup: Promise<void> = Promise.resolve();

async function shutdown(code: number, reason: string): Promise<void> {
  if (stopping) {
    log.info(`already stopping (${reason})`);
    return;
  }
  stopping = true;
  log.info({ reason }, 'stopping');
  await startup.catch(() => {});
  await stopAll();
  log.info({ code }, 'stopped');
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));

startup = start();
startup.catch((err: unknown) => {
  log.fatal({ err }, `start failed: ${(err as Error).message}`);
  void shutdown(1, 'start failed');
});
