// CPU and memory of processes from /proc (Linux), and Redis's own CPU from INFO.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import type { Redis } from 'ioredis'

let clkTck: number | undefined

export function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards), or null when gone. */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}

/** utime + stime of a process so far, in seconds (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the parenthesised command name: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / ticksPerSecond()
  } catch {
    return 0
  }
}

/** Resident set size in bytes (VmRSS), 0 once the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

/** Direct children of a process. */
export function childPids(pid: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) out.push(Number(name))
    } catch {
      // exited meanwhile
    }
  }
  return out
}

/** used_cpu_sys + used_cpu_user of a Redis server, in seconds. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const num = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
  return num('used_cpu_sys') + num('used_cpu_user')
}

export async function redisMemoryBytes(redis: Redis): Promise<number> {
  const info = await redis.info('memory')
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0)
}

/** A CPU meter over a set of pids: share of one core used since the last mark (1.0 = one core). */
export function cpuMeter(pids: () => number[]) {
  let at = performance.now()
  let last = new Map(pids().map((p) => [p, cpuSeconds(p)]))
  return {
    mark() {
      at = performance.now()
      last = new Map(pids().map((p) => [p, cpuSeconds(p)]))
    },
    /** cores used since the mark, summed over the pids */
    read(): number {
      const secs = (performance.now() - at) / 1000
      let used = 0
      for (const p of pids()) used += cpuSeconds(p) - (last.get(p) ?? 0)
      return secs > 0 ? used / secs : 0
    },
  }
}

/** CPU seconds the whole machine has been busy (every core: user, nice, system, irq, softirq, steal). */
export function machineBusySeconds(): number {
  try {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f
    return (user + nice + system + irq + softirq + steal) / ticksPerSecond()
  } catch {
    return 0
  }
}
