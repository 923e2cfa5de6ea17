// Redis CPU and command counts per node, so a cluster run says where its load went: INFO cpu
// (used_cpu_sys + used_cpu_user) and INFO commandstats (calls, usec per command) sampled before
// and after a measurement, and the difference per node → cores, µs of Redis CPU per message and
// each master's share. Redis 7 counts EVALSHA as one command whatever the script, so "per script"
// is per EVALSHA; in the script ceiling every EVALSHA measured is appendMessage. commandstats usec
// is wall time inside the command (a node preempted mid-script on a busy box counts it); INFO cpu
// is the process's CPU, the figure the per-message costs are made of.
import type { Redis } from 'ioredis'
import { round } from './report.js'

export type CommandCount = { calls: number; usec: number }

export type NodeSample = { port: number; role: 'master' | 'replica'; cpuSeconds: number; commands: Record<string, CommandCount> }

/** `cmdstat_<name>:calls=N,usec=N,…` lines of INFO commandstats → { name: { calls, usec } }. */
export function parseCommandStats(info: string): Record<string, CommandCount> {
  const out: Record<string, CommandCount> = {}
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out[m[1]!] = { calls: Number(m[2]), usec: Number(m[3]) }
  }
  return out
}

/** used_cpu_sys + used_cpu_user of INFO cpu, in seconds. */
export function parseCpuSeconds(info: string): number {
  const num = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
  return num('used_cpu_sys') + num('used_cpu_user')
}

export async function sampleNode(conn: Redis, port: number, role: NodeSample['role']): Promise<NodeSample> {
  const [cpu, stats] = await Promise.all([conn.info('cpu'), conn.info('commandstats')])
  return { port, role, cpuSeconds: parseCpuSeconds(cpu), commands: parseCommandStats(stats) }
}

export type NodeFigures = {
  port: number; role: NodeSample['role']
  /** cores of Redis CPU over the measurement */
  cpu: number
  /** Redis CPU of this node per message of the whole run (µs): the sum over masters is the run's figure */
  usPerMsg: number
  /** Redis CPU of this master per message it carried (its EVALSHA share of the messages), µs; null on replicas */
  usPerOwnMsg: number | null
  /** this node's share of the masters' CPU and of their EVALSHA calls (0–1); 0 on replicas */
  cpuShare: number; evalshaShare: number
  evalshaCalls: number
  /** µs inside EVALSHA per call (commandstats usec: wall time in the script, nested commands included) */
  evalshaUsPerCall: number | null
  /** the commands that took the most commandstats time: name → calls */
  topCommands: Record<string, number>
}

/** Per node between two samples (same nodes, same order), over `seconds` and `messages` of the run. */
export function nodeFigures(before: readonly NodeSample[], after: readonly NodeSample[], seconds: number, messages: number): NodeFigures[] {
  const deltas = after.map((a, i) => {
    const b = before[i]
    if (b === undefined || b.port !== a.port) throw new Error(`node samples do not match at ${i}`)
    const commands: Record<string, CommandCount> = {}
    for (const [name, c] of Object.entries(a.commands)) {
      const calls = c.calls - (b.commands[name]?.calls ?? 0)
      if (calls > 0) commands[name] = { calls, usec: c.usec - (b.commands[name]?.usec ?? 0) }
    }
    return { a, cpu: a.cpuSeconds - b.cpuSeconds, commands }
  })
  const masters = deltas.filter((d) => d.a.role === 'master')
  const masterCpu = masters.reduce((s, d) => s + d.cpu, 0)
  const masterCalls = masters.reduce((s, d) => s + (d.commands['evalsha']?.calls ?? 0), 0)
  return deltas.map(({ a, cpu, commands }) => {
    const evalsha = commands['evalsha'] ?? { calls: 0, usec: 0 }
    const master = a.role === 'master'
    const top = Object.entries(commands).sort(([, x], [, y]) => y.usec - x.usec).slice(0, 5)
    return {
      port: a.port, role: a.role, cpu: seconds > 0 ? round(cpu / seconds, 3) : 0,
      usPerMsg: messages > 0 ? round((cpu * 1e6) / messages, 1) : 0,
      usPerOwnMsg: master && masterCalls > 0 && evalsha.calls > 0 && messages > 0 ? round((cpu * 1e6) / (messages * (evalsha.calls / masterCalls)), 1) : null,
      cpuShare: master && masterCpu > 0 ? round(cpu / masterCpu, 3) : 0,
      evalshaShare: master && masterCalls > 0 ? round(evalsha.calls / masterCalls, 3) : 0,
      evalshaCalls: evalsha.calls,
      evalshaUsPerCall: evalsha.calls > 0 ? round(evalsha.usec / evalsha.calls, 1) : null,
      topCommands: Object.fromEntries(top.map(([name, c]) => [name, c.calls])),
    }
  })
}

/** The masters' CPU summed (cores), the figure a one-instance run reports as its Redis CPU. */
export function mastersCpu(nodes: readonly NodeFigures[]): number {
  return round(nodes.filter((n) => n.role === 'master').reduce((s, n) => s + n.cpu, 0), 3)
}

/**
 * What the masters would carry each on a core of its own (a bigger machine, or one per master),
 * assuming CPU per message stays what it was here. A master's rate per core is its share of the
 * messages (its EVALSHA share) over the cores it used. With the load split as measured, the busiest
 * master reaches a full core first: the cluster then carries rate / busiest cores (`busiestBound`).
 * With each master given as much load as a core takes, it carries the sum of the per-core rates
 * (`sumPerCore`). Null when no master did any work.
 */
export function projectedRate(nodes: readonly NodeFigures[], messagesPerSec: number): { perCore: number[]; busiestBound: number; sumPerCore: number } | null {
  const masters = nodes.filter((n) => n.role === 'master' && n.cpu > 0)
  if (masters.length === 0) return null
  const perCore = masters.map((n) => round((messagesPerSec * n.evalshaShare) / n.cpu))
  return {
    perCore,
    busiestBound: round(messagesPerSec / Math.max(...masters.map((n) => n.cpu))),
    sumPerCore: perCore.reduce((s, r) => s + r, 0),
  }
}
