// Runs a local redis-server (not daemonized) on 127.0.0.1 with AOF on and
// fsync every second. Reusing a dir reloads its AOF.
import { mkdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { findRedisServer } from './binaries.js';
import { describeExit, sleep, spawnManaged, type ExitInfo } from './child.js';

export type StartRedisOptions = {
  dir: string;
  port: number;
  /** redis-server writes its log here instead of to a captured pipe. */
  logFile?: string;
  /** Extra `--name value` settings (e.g. { maxmemory: '64mb' }). */
  settings?: Readonly<Record<string, string>>;
  readyTimeoutMs?: number;
};

export type RedisServer = {
  url: string;
  port: number;
  pid: number;
  dir: string;
  /** Settles when the server process exits, for whatever reason. */
  exited: Promise<ExitInfo>;
  stop(): Promise<void>;
};

const PID_FILE = 'redis-server.pid';

/** Sends one inline command over a raw socket; resolves with its reply (status line or bulk body). */
function rawCommand(port: number, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolveReply, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    const done = (reply: string): void => {
      socket.destroy();
      resolveReply(reply);
    };
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${command} timed out`)));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('connection closed')));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n');
      if (end < 0) return;
      const first = data.subarray(0, end).toString('utf8');
      if (!first.startsWith('$')) return done(first);
      const length = Number(first.slice(1));
      if (data.length >= end + 2 + length) done(data.subarray(end + 2, end + 2 + length).toString('utf8'));
    });
  });
}

/** undefined once the redis-server with `pid` answers PING on `port`. */
async function notReadyReason(port: number, pid: number): Promise<string | undefined> {
  try {
    const pong = await rawCommand(port, 'PING', 1000);
    if (pong !== '+PONG') return pong; // e.g. -LOADING while the AOF is replayed
    // Another server may have taken the port between choosing it and binding it.
    const info = await rawCommand(port, 'INFO server', 1000);
    if (!info.includes(`process_id:${pid}\r\n`)) return 'port serves another redis-server';
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Refuses to start a second redis-server on a dir a live one still owns (AOF corruption). */
async function assertDirFree(dir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(join(dir, PID_FILE), 'utf8')).trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !processAlive(pid)) return;
  let comm = 'redis-server';
  try {
    comm = await readFile(`/proc/${pid}/comm`, 'utf8');
  } catch {
    // no /proc: trust the pid file
  }
  if (comm.includes('redis')) {
    throw new Error(
      `redis-server (pid ${pid}) is already running on ${dir}; stop it (kill ${pid}) before starting another`,
    );
  }
}

export async function startRedis(opts: StartRedisOptions): Promise<RedisServer> {
  const dir = resolve(opts.dir);
  const bin = findRedisServer();
  await mkdir(dir, { recursive: true });
  await assertDirFree(dir);
  const settings: Record<string, string> = {
    bind: '127.0.0.1',
    port: String(opts.port),
    dir,
    daemonize: 'no',
    pidfile: join(dir, PID_FILE),
    appendonly: 'yes',
    appendfsync: 'everysec',
    save: '',
    'maxmemory-policy': 'noeviction',
    ...(opts.logFile ? { logfile: resolve(opts.logFile) } : {}),
    ...opts.settings,
  };
  const args = Object.entries(settings).flatMap(([k, v]) => [`--${k}`, v]);
  const child = spawnManaged({
    name: 'redis-server',
    command: bin,
    args,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 10_000,
    output: 'capture',
  });

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (child.hasExited()) {
      const info = await child.exited;
      throw new Error(
        `redis-server on port ${opts.port} ${describeExit(info)}` +
          `${opts.logFile ? ` (log: ${opts.logFile})` : ''}\n${child.tail()}`,
      );
    }
    const reason = await notReadyReason(opts.port, child.pid);
    if (reason === undefined) break;
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`redis-server on port ${opts.port} is not ready (${reason})\n${child.tail()}`);
    }
    await sleep(reason.startsWith('-LOADING') ? 100 : 25);
  }

  return {
    url: `redis://127.0.0.1:${opts.port}`,
    port: opts.port,
    pid: child.pid,
    exited: child.exited,
    dir,
    // SIGTERM makes redis fsync the AOF and exit; SIGKILL after 10 s.
    stop: async () => {
      await child.stop();
    },
  };
}
