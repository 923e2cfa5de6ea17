// Heap snapshots of a running engine process (started with --heapsnapshot-signal=SIGUSR2 and
// --diagnostic-dir), summarised by constructor: what the live (post-GC) JS heap is made of. The
// connections scenario diffs one before and one after the connections to say what each costs.
import { readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'

type Snapshot = {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

export type HeapSummary = { totalBytes: number; byName: Map<string, { count: number; bytes: number }> }

/** Self sizes summed by "type:name" (objects by constructor, strings, closures, native blocks). */
export function summarizeSnapshot(file: string): HeapSummary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const byName = new Map<string, { count: number; bytes: number }>()
  let totalBytes = 0
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?'
    const size = snap.nodes[i + sizeAt]!
    totalBytes += size
    const raw = type === 'object' || type === 'native' || type === 'closure' ? snap.strings[snap.nodes[i + nameAt]!] ?? '?' : ''
    const key = `${type}${raw === '' ? '' : `:${raw.slice(0, 60)}`}`
    const e = byName.get(key)
    if (e === undefined) byName.set(key, { count: 1, bytes: size })
    else { e.count++; e.bytes += size }
  }
  return { totalBytes, byName }
}

/** Sends SIGUSR2 and waits for the new .heapsnapshot in `dir` to be complete. */
export async function takeSnapshot(pid: number, dir: string, timeoutMs = 120_000): Promise<string> {
  const before = new Set(readdirSync(dir))
  process.kill(pid, 'SIGUSR2')
  const deadline = Date.now() + timeoutMs
  let last = -1
  for (;;) {
    await new Promise((r) => setTimeout(r, 500))
    const fresh = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f))
    const file = fresh[0]
    if (file !== undefined) {
      const size = statSync(join(dir, file)).size
      if (size > 0 && size === last) return join(dir, file)
      last = size
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot from ${pid} in ${timeoutMs} ms`)
  }
}

/** Per-connection growth between two summaries: the largest contributors first. */
export function diffPerConnection(before: HeapSummary, after: HeapSummary, connections: number, top = 12) {
  const rows: { name: string; bytesPerConn: number; countPerConn: number }[] = []
  for (const [name, a] of after.byName) {
    const b = before.byName.get(name) ?? { count: 0, bytes: 0 }
    const bytes = a.bytes - b.bytes
    if (bytes <= 0) continue
    rows.push({ name, bytesPerConn: Math.round((bytes / connections) * 10) / 10, countPerConn: Math.round(((a.count - b.count) / connections) * 100) / 100 })
  }
  rows.sort((x, y) => y.bytesPerConn - x.bytesPerConn)
  return { heapBytesPerConn: Math.round((after.totalBytes - before.totalBytes) / connections), top: rows.slice(0, top) }
}

export function removeSnapshot(file: string): void {
  try {
    unlinkSync(file)
  } catch {
    // already gone
  }
}
