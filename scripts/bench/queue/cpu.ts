// CPU and memory of the processes a row runs, and the wait for a quiet machine before it.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { fixed, machineBusySeconds, progress } from '../common';

/** The local Redis server's pid (INFO server), when it runs on this machine. */
export async function redisPid(redis: Redis): Promise<number | undefined> {
  const info = await redis.info('server');
  const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  if (!Number.isInteger(pid)) return undefined;
  try {
    readFileSync(`/proc/${pid}/stat`);
    return pid;
  } catch {
    return undefined;
  }
}

export interface Sampled {
  seconds: number;
  nodeCpuS: number;
  redisCpuS: number;
  machineBusyS: number;
  load1: number;
}

/** CPUs the machine may be using when a row starts (over the last QUIET_WINDOW_MS). */
export const QUIET_CPUS = 0.25;
export const QUIET_WINDOW_MS = 2000;
/** Longest wait for the machine to be quiet before a row; then it runs anyway (and may be marked †). */
export const QUIET_MAX_WAIT_MS = { queue: 10_000, crawl: 30_000 };

/**
 * Waits until the whole machine used less than QUIET_CPUS over QUIET_WINDOW_MS (other work on
 * it comes and goes), for at most QUIET_MAX_WAIT_MS. Returns the CPUs busy in the last window.
 */
export async function waitForQuiet(what: string, kind: keyof typeof QUIET_MAX_WAIT_MS): Promise<number> {
  const deadline = Date.now() + QUIET_MAX_WAIT_MS[kind];
  for (;;) {
    const b0 = machineBusySeconds();
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    const cpus = (machineBusySeconds() - b0) / (QUIET_WINDOW_MS / 1000);
    if (cpus < QUIET_CPUS) return cpus;
    if (Date.now() >= deadline) {
      progress(`${what}: the machine is still busy (${fixed(cpus, 2)} CPUs): running anyway`);
      return cpus;
    }
    progress(`${what}: waiting for the machine to be quiet (${fixed(cpus, 2)} CPUs busy)`);
  }
}

/** Times `fn`, with this process's CPU (or `cpu()`'s), Redis's and the machine's meanwhile. */
export async function timed(
  redisCpu: () => number,
  fn: () => Promise<void>,
  cpu?: () => number,
): Promise<Sampled> {
  await waitForQuiet('queue row', 'queue');
  const load1 = os.loadavg()[0]!;
  const ownCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const nodeCpu = cpu ?? ownCpu;
  const cpu0 = nodeCpu();
  const redis0 = redisCpu();
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  return {
    seconds,
    nodeCpuS: nodeCpu() - cpu0,
    redisCpuS: redisCpu() - redis0,
    machineBusyS: machineBusySeconds() - busy0,
    load1,
  };
}
