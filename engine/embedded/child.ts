// A spawned server or worker process with a known way to stop it.
// Children run in their own process group (detached) so a terminal Ctrl-C
// reaches only the parent, which then stops them in order. Two guards keep a
// server from outliving its parent: a process 'exit' hook sends each live child
// its stop signal (uncaught error, process.exit), and a tiny reaper shell per
// child holds a pipe from us and sends the stop signal when that pipe closes,
// which covers the parent being killed (SIGKILL, a test runner's timeout).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Socket } from 'node:net';

export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

export type ManagedChild = {
  readonly pid: number;
  readonly name: string;
  /** Settles once, when the process has exited (or failed to spawn). */
  readonly exited: Promise<ExitInfo>;
  readonly hasExited: () => boolean;
  /** The last lines the process wrote (captured output only). */
  readonly tail: () => string;
  /** Send the stop signal, wait; escalate to SIGKILL after timeoutMs. */
  readonly stop: () => Promise<ExitInfo>;
};

export type SpawnManagedOptions = {
  name: string;
  command: string;
  args: readonly string[];
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** 'inherit' passes output through to ours; 'capture' keeps a tail (and a log file). */
  output: 'inherit' | 'capture';
  logFile?: string;
};

const live = new Set<{ child: ChildProcess; signal: NodeJS.Signals }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const entry of live) {
      try {
        entry.child.kill(entry.signal);
      } catch {
        // already gone
      }
    }
  });
}

/** `sh` that waits for EOF on a pipe only we hold, then signals `pid`. Unref'd: never keeps us alive. */
function spawnReaper(pid: number, signal: NodeJS.Signals): ChildProcess {
  const reaper = spawn('/bin/sh', ['-c', `read _; kill -s ${signal.replace(/^SIG/, '')} ${pid} 2>/dev/null`], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  reaper.on('error', () => {});
  reaper.stdin?.on('error', () => {});
  reaper.unref();
  (reaper.stdin as Socket | null)?.unref();
  return reaper;
}

const TAIL_LINES = 60;

function tailKeeper(log: WriteStream | undefined): { push: (chunk: Buffer) => void; text: () => string } {
  const lines: string[] = [];
  let partial = '';
  return {
    push(chunk) {
      log?.write(chunk);
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length > TAIL_LINES) lines.splice(0, lines.length - TAIL_LINES);
    },
    text: () => [...lines, partial].filter((l) => l.length > 0).join('\n'),
  };
}

export function spawnManaged(opts: SpawnManagedOptions): ManagedChild {
  installExitHook();
  const log = opts.output === 'capture' && opts.logFile
    ? createWriteStream(opts.logFile, { flags: 'a' })
    : undefined;
  log?.on('error', () => {});
  const tail = tailKeeper(log);
  const child = spawn(opts.command, [...opts.args], {
    detached: true,
    stdio: opts.output === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? '/',
    ...(opts.uid === undefined ? {} : { uid: opts.uid }),
    ...(opts.gid === undefined ? {} : { gid: opts.gid }),
  });
  child.stdout?.on('data', tail.push);
  child.stderr?.on('data', tail.push);
  const entry = { child, signal: opts.stopSignal };
  live.add(entry);
  const reaper = child.pid === undefined ? undefined : spawnReaper(child.pid, opts.stopSignal);

  let done = false;
  const exited = new Promise<ExitInfo>((resolve) => {
    const finish = (info: ExitInfo): void => {
      if (done) return;
      done = true;
      live.delete(entry);
      log?.end();
      resolve(info);
    };
    // Retire the reaper as soon as the pid is reaped, before it can be reused.
    child.once('exit', () => reaper?.kill('SIGKILL'));
    child.once('error', (error) => {
      reaper?.kill('SIGKILL');
      finish({ code: null, signal: null, error });
    });
    // 'close' waits for the pipes to drain, so tail() is complete afterwards.
    child.once('close', (code, signal) => finish({ code, signal }));
  });

  let stopping: Promise<ExitInfo> | undefined;
  const stop = (): Promise<ExitInfo> => {
    stopping ??= (async () => {
      if (done) return exited;
      child.kill(opts.stopSignal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), opts.stopTimeoutMs);
      });
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (first === 'timeout') child.kill('SIGKILL');
      return exited;
    })();
    return stopping;
  };

  return {
    pid: child.pid ?? -1,
    name: opts.name,
    exited,
    hasExited: () => done,
    tail: tail.text,
    stop,
  };
}

/** Human-readable exit description for error messages and logs. */
export function describeExit(info: ExitInfo): string {
  if (info.error) return `failed to start: ${info.error.message}`;
  if (info.signal) return `killed by ${info.signal}`;
  return `exited with code ${String(info.code)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
