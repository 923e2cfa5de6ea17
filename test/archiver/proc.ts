// Test helpers for the archiver's processes: spawn a compiled entry point, collect its output,
// wait for a log line or its exit, find a free TCP port, poll an HTTP endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export type Proc = {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines seen so far. */
  logs(): Record<string, unknown>[];
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** Runs dist/archiver/<entry>.js with exactly `env` (plus PATH and tap's NODE_OPTIONS). */
export function runArchiver(entry: string, env: Record<string, string>): Proc {
  const file = fileURLToPath(new URL(`../../archiver/${entry}.js`, import.meta.url));
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'NODE_OPTIONS', 'NODE_V8_COVERAGE']) {
    const v = process.env[k];
    if (v !== undefined) base[k] = v;
  }
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('TAP') && v !== undefined) base[k] = v;
  const child = spawn(process.execPath, [file], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters) w();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of waiters) w();
    });
  });
  const logs = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    waitForLog(pred, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = logs().find(pred);
          if (hit) return done(() => resolve(hit));
          if (child.exitCode !== null || child.signalCode !== null) {
            done(() => reject(new Error(`process exited before the expected log line\n${out}\n${err}`)));
          }
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for a log line\n${out}\n${err}`))), timeoutMs);
        const done = (f: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export type HttpReply = { status: number; body: string };

export async function get(url: string): Promise<HttpReply> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** Polls `url` until `pred` holds for its reply; returns that reply. */
export async function pollUntil(url: string, pred: (r: HttpReply) => boolean, timeoutMs = 20_000): Promise<HttpReply> {
  const deadline = Date.now() + timeoutMs;
  let last: HttpReply | undefined;
  for (;;) {
    try {
      last = await get(url);
      if (pred(last)) return last;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out polling ${url}; last reply ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The archiver process (dist/archiver/main.js) against a real Redis and PostgreSQL, on a free
 * port, ready before this resolves, stopped at teardown. `stop`/`restart` for outage tests;
 * `waitForMessages(n)` polls its metrics until n message rows are committed (20 s at most).
 */
export async function startArchiver(t: { teardown(fn: () => unknown): void }, redisUrl: string, databaseUrl: string, extraEnv: Record<string, string> = {}) {
  const port = await freePort();
  const env = { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, ARCHIVER_PORT: String(port), LOG_LEVEL: 'warn', BATCH_MS: '50', ...extraEnv };
  const ready = () => pollUntil(`http://127.0.0.1:${port}/readyz`, (r) => r.status === 200);
  let proc = runArchiver('main', env);
  const stop = async (): Promise<void> => {
    proc.child.kill('SIGTERM');
    await proc.exited;
  };
  t.teardown(stop);
  await ready();
  return {
    port,
    stop,
    restart: async (): Promise<void> => {
      proc = runArchiver('main', env);
      await ready();
    },
    waitForMessages: async (n: number): Promise<void> => {
      await pollUntil(`http://127.0.0.1:${port}/metrics`, (r) => Number(/parley_archiver_rows_total\{table="messages"\} (\d+)/.exec(r.body)?.[1] ?? 0) >= n);
    },
  };
}
