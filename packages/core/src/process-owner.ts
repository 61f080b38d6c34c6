import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';

// Which process owns something on disk (the embedded database's lock, a temporary directory),
// recorded so that a later process can tell a live owner from a dead one. A pid alone is not
// enough: pids are reused, and a reboot starts them over. With the boot id and the process's
// start time (Linux /proc) a recycled pid is told apart; where /proc is missing, the pid is all.

export const ProcessOwner = z.object({
  pid: z.number().int().positive(),
  host: z.string(),
  /** /proc/sys/kernel/random/boot_id; null where there is none. */
  bootId: z.string().nullable(),
  /** Field 22 of /proc/<pid>/stat: clock ticks from boot to the process's start; null without /proc. */
  startTicks: z.string().nullable(),
});
export type ProcessOwner = z.infer<typeof ProcessOwner>;

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function startTicks(pid: number): string | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null; // field 22 of the whole line; the rest starts at field 3
}

function bootId(): string | null {
  return readOrNull('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

/** This process, as an owner record. */
export function currentOwner(): ProcessOwner {
  return { pid: process.pid, host: hostname(), bootId: bootId(), startTicks: startTicks(process.pid) };
}

/**
 * `alive`: the owner process still runs; `dead`: it does not (a stale record); `elsewhere`: it
 * ran on another host, which this one cannot ask.
 */
export type OwnerState = 'alive' | 'dead' | 'elsewhere';

export function ownerState(owner: ProcessOwner): OwnerState {
  if (owner.host !== hostname()) return 'elsewhere';
  const boot = bootId();
  if (owner.bootId !== null && boot !== null && owner.bootId !== boot) return 'dead';
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: a process of another user has that pid, so it is alive (if not ours, see below).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'dead';
  }
  const ticks = startTicks(owner.pid);
  if (owner.startTicks !== null && ticks !== null && ticks !== owner.startTicks) return 'dead'; // pid reused
  return 'alive';
}
