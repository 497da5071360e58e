// What the embedded PostgreSQL's tests read of its processes, from outside (Linux: /proc).
import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The pid in the folder's postmaster.pid, if there is one. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** postmaster.pid's status line: "ready" once the server accepts connections. */
export async function postmasterStatus(dataDir: string): Promise<string | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text?.split('\n')[7]?.trim();
}

/** Whether `pid` runs: alive and not a zombie (a killed server waits for init to reap it). */
export function runs(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** The postmasters of `dataDir`: processes named postgres working there whose parent is not one of them. */
export async function postmastersOf(dataDir: string): Promise<number[]> {
  const inDir: { pid: number; ppid: number }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (cwd !== dataDir || !stat.includes('(postgres)')) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z') inDir.push({ pid: Number(entry), ppid: Number(fields[1]) });
  }
  const pids = new Set(inDir.map((p) => p.pid));
  return inDir.filter((p) => !pids.has(p.ppid)).map((p) => p.pid);
}
