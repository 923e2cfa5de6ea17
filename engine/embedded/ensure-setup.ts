// `npm start` on a machine without the servers: runs engine/embedded/setup.sh (as root on Debian it
// installs redis-server, postgresql and chromium with apt-get; otherwise it prints the command)
// before the embedded servers start, so a fresh machine needs no separate setup step.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { findPostgres, findRedisServer } from './binaries.js';

function present(find: () => unknown): boolean {
  try {
    find();
    return true;
  } catch {
    return false;
  }
}

/** Runs the setup when a server binary `needs` names is missing; throws when it cannot help. */
export function ensureServerBinaries(root: string, needs: { redis: boolean; postgres: boolean }, say: (msg: string) => void): void {
  const missing = (needs.redis && !present(findRedisServer)) || (needs.postgres && !present(findPostgres));
  if (!missing) return;
  say('a server binary is missing: running engine/embedded/setup.sh (npm run setup)');
  const r = spawnSync('bash', [join(root, 'engine', 'embedded', 'setup.sh')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('setup did not complete (see its output above): run `npm run setup` as root, then `npm start` again');
}
