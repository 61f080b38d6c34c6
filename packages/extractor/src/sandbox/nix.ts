import { spawn } from 'node:child_process';
import { CrawlError } from '@pypi-graph/core';

// The one place that starts Nix processes. They get a clean environment (PATH and HOME only):
// nix-build must not see DATABASE_URL & co. (Nix builders never inherit the caller's environment
// anyway; the sandbox builder sees only Nix's own variables and the derivation's attributes.)

export interface NixCommandOptions {
  /** Kill the process after this many milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Keep at most this many bytes of stdout and of stderr (the end of stderr). */
  maxOutputBytes?: number;
}

export interface NixCommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

/** Runs a Nix command; resolves with its status and output, rejects only on abort or spawn failure. */
export function runNix(
  command: string,
  args: string[],
  options: NixCommandOptions,
): Promise<NixCommandResult> {
  const cap = options.maxOutputBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new CrawlError('aborted', `${command} aborted before it started`));
      return;
    }
    const child = spawn(command, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < cap) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-cap);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, options.timeoutMs);
    const onAbort = () => child.kill('SIGTERM');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(
        new CrawlError('sandbox-failed', `cannot start ${command}: ${err.message}`, {
          cause: err,
          hint: 'install Nix (apt-get install -y nix-bin) and put nix-build on PATH',
        }),
      );
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) {
        reject(new CrawlError('aborted', `${command} was aborted`));
        return;
      }
      resolve({ status, stdout, stderr, timedOut });
    });
  });
}
