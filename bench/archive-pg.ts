// The archive scenario's PostgreSQL: a throwaway cluster on a free port in a temp dir, copied from
// an initdb template kept in the temp folder (made once per machine and version, default 16 MB WAL
// segments, unlike the tests' 1 MB ones), with PostgreSQL's default durability (fsync and
// synchronous_commit on) unless told otherwise. Plus the CPU of the whole cluster from /proc.
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findPostgres, postgresVersion } from '../engine/embedded/binaries.js'
import { freePort } from '../engine/embedded/ports.js'
import { prepareDataDir, startPostgres, type PgSettings } from '../engine/embedded/postgres.js'
import { childPids, statFields, ticksPerSecond } from './lib/procstat.js'

export type BenchPostgres = { url: string; port: number; pid: number; version: string; stop(): Promise<void> }

/** A temp folder the unprivileged postgres user can traverse (mkdtemp makes 0700). */
async function tempFolder(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await chmod(dir, 0o755)
  return dir
}

async function benchTemplate(version: string): Promise<string> {
  const path = join(tmpdir(), `parley-pg-bench-template-${version}-u${process.getuid?.() ?? 0}`)
  if (existsSync(join(path, 'PG_VERSION'))) return path
  const work = await tempFolder('parley-pg-bench-template-build-')
  try {
    const built = await prepareDataDir({ dir: join(work, 'data'), log: () => {} })
    try {
      await rename(built.dataDir, path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (!((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(join(path, 'PG_VERSION')))) throw err
    }
    return path
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

export async function startBenchPostgres(settings: PgSettings): Promise<BenchPostgres> {
  const version = postgresVersion(findPostgres().postgres)
  const template = await benchTemplate(version)
  const dir = await tempFolder('parley-bench-pg-')
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    try {
      const server = await startPostgres({ dir: join(dir, `p${port}`), port, template, settings, log: () => {} })
      return {
        url: server.url, port, pid: server.pid, version,
        stop: async () => {
          await server.stop()
          await rm(dir, { recursive: true, force: true })
          if (server.relocated) await rm(server.dataDir, { recursive: true, force: true })
        },
      }
    } catch (err) {
      if (attempt >= 3 || !/in use|another/i.test((err as Error).message)) {
        await rm(dir, { recursive: true, force: true })
        throw err
      }
    }
  }
}

/**
 * CPU seconds of a PostgreSQL cluster so far: the postmaster's own and its reaped children's
 * (cutime + cstime), plus every live child's (backends, walwriter, checkpointer, autovacuum).
 * A backend that exits moves from the second sum to the first, so differences stay right.
 */
export function clusterCpuSeconds(postmaster: number): number {
  const f = statFields(postmaster)
  if (f === null) return 0
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
  for (const child of childPids(postmaster)) {
    const c = statFields(child)
    if (c !== null) ticks += Number(c[11]) + Number(c[12])
  }
  return ticks / ticksPerSecond()
}
