// Real processes for the tests: a TypeScript file run by Node through tsx (as `pnpm pypi-graph`
// runs the CLI), and a watcher of its output.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const CLI_MAIN = path.resolve('packages/cli/src/main.ts');

/** `node --import tsx SCRIPT ARGS` with the test's environment plus `env`; stdout and stderr piped. */
export function startTs(script: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { ...process.env, CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The CLI (`pnpm pypi-graph ARGS`) as a child process. */
export function startCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return startTs(CLI_MAIN, args, env);
}

/** Collects a process's output; `waitFor` resolves with the first match of `re` in it. */
export function watch(child: ChildProcess) {
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr?.on('data', (d) => {
    out.stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const waitFor = (stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        const m = out[stream].match(re);
        if (m) {
          clearInterval(poll);
          resolve(m);
        } else if (Date.now() - t0 > timeoutMs || child.exitCode !== null || child.signalCode !== null) {
          clearInterval(poll);
          reject(new Error(`no ${re} in ${stream}: ${out.stdout}\n${out.stderr}`));
        }
      }, 100);
    });
  return { out, exited, waitFor };
}
