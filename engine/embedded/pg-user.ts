// PostgreSQL refuses to run as root. When we are root, initdb and postgres run
// as an unprivileged user (the `postgres` system user, else `nobody`) that must
// own the data dir and be able to traverse every directory above it.
import { readFileSync, statSync } from 'node:fs';
import { lchown, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

export type RunAs = { name: string; uid: number; gid: number };

export function passwdUser(name: string, passwdFile = '/etc/passwd'): RunAs | undefined {
  let text: string;
  try {
    text = readFileSync(passwdFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  return undefined;
}

/** The user postgres runs as: undefined when we are not root (run as ourselves). */
export function postgresRunAs(passwdFile = '/etc/passwd'): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const user = passwdUser('postgres', passwdFile) ?? passwdUser('nobody', passwdFile);
  if (!user) throw new Error(`running as root and ${passwdFile} has neither a postgres nor a nobody user`);
  return user;
}

function mayTraverse(dir: string, user: RunAs): boolean {
  const st = statSync(dir);
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Whether `user` can reach `dir`: search permission on every existing
 * ancestor (the dir itself is chowned to the user). Ancestors that do not
 * exist yet are created by us with the default mode, so they do not block.
 */
export function canReach(dir: string, user: RunAs): boolean {
  let current = dirname(resolve(dir));
  const chain: string[] = [];
  for (;;) {
    chain.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const d of chain) {
    try {
      if (!mayTraverse(d, user)) return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    }
  }
  return true;
}

/** chown -R without following symlinks. */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  const entries = await readdir(dir, { recursive: true });
  for (let i = 0; i < entries.length; i += 64) {
    await Promise.all(entries.slice(i, i + 64).map((e) => lchown(join(dir, e), uid, gid)));
  }
}
