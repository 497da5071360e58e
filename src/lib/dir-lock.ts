import { open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';

/**
 * An exclusive, process-wide claim on a directory: a lock file beside it holding the owner's pid
 * and host. PGlite has no lock of its own, and two processes writing one PGlite directory corrupt
 * it or, worse, each see a ledger of their own (one takes deliveries of jobs only the other has).
 * A lock left by a process that is gone (same host, pid not alive) is taken over.
 */
export class DirectoryLockedError extends Error {
  readonly code = 'LEDGER_LOCKED';
  readonly lockPath: string;
  readonly holder: { pid?: number; hostname?: string };
  constructor(lockPath: string, holder: { pid?: number; hostname?: string }) {
    super(`held by process ${holder.pid ?? '?'} on ${holder.hostname ?? '?'} (lock file ${lockPath})`);
    this.lockPath = lockPath;
    this.holder = holder;
    this.name = 'DirectoryLockedError';
  }
}

const heldHere = new Set<string>();

/** Takes the lock on `dir` or throws DirectoryLockedError; resolves with its release. */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const lockPath = `${dir}.lock`;
  if (heldHere.has(lockPath)) throw new DirectoryLockedError(lockPath, { pid: process.pid, hostname: hostname() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(lockPath, 'wx');
      await file.writeFile(JSON.stringify({ pid: process.pid, hostname: hostname(), at: new Date().toISOString() }));
      await file.close();
      heldHere.add(lockPath);
      let released: Promise<void> | undefined;
      return () =>
        (released ??= (async () => {
          heldHere.delete(lockPath);
          await rm(lockPath, { force: true });
        })());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(lockPath);
    if (holder && isAlive(holder)) throw new DirectoryLockedError(lockPath, holder);
    await rm(lockPath, { force: true }); // stale: its process is gone
  }
  throw new DirectoryLockedError(lockPath, (await readHolder(lockPath)) ?? {});
}

async function readHolder(lockPath: string): Promise<{ pid?: number; hostname?: string } | undefined> {
  try {
    return JSON.parse(await readFile(lockPath, 'utf8')) as { pid?: number; hostname?: string };
  } catch {
    return undefined; // gone, or half written by a process that died: stale
  }
}

/** On another host we cannot tell: count it as alive, and let a person remove the file. */
function isAlive(holder: { pid?: number; hostname?: string }): boolean {
  if (holder.hostname !== hostname()) return true;
  if (!holder.pid || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
