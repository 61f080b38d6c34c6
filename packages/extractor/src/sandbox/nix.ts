import { spawn } from 'node:child_process';
import { jobError, sandboxError } from '@pypi-graph/core';

// The one place that starts Nix processes. They get a clean environment (PATH and HOME only):
// nix-build must not see DATABASE_URL & co. (Nix builders never inherit the caller's environment
// anyway; the sandbox builder sees only Nix's own variables and the derivation's attributes.)

/** How to get Nix, for hints and logs. */
export const NIX_INSTALL_HINT =
  'install Nix (Debian, as root: apt-get install -y nix-bin; elsewhere https://nixos.org/download) so that nix-build is on PATH, then `pnpm crawl --resume`';

export interface NixCommandOptions {
  /** Kill the process after this many milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Keep at most this many bytes of stdout and of stderr (the end of stderr). */
  maxOutputBytes?: number;
  /** PATH the command is looked up in and run with; this process's PATH by default. */
  binPath?: string;
  /** Runs the command through another (cgroup.ts `inCgroup`: join the build's cgroup, then exec). */
  wrap?: (command: string, args: string[]) => [string, string[]];
}

export interface NixCommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The last `lines` lines of a command's output, without terminal colours. */
export function tailLines(text: string, lines = 20): string {
  return text
    .replace(/\x1b\[[0-9;]*m/g, '')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .join('\n');
}

/** The PATH Nix commands run with unless a caller says otherwise. */
export function defaultBinPath(): string {
  return process.env.PATH ?? '/usr/bin:/bin';
}

function cleanEnv(binPath = defaultBinPath()): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: binPath };
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
      reject(jobError('aborted', `${command} aborted before it started`));
      return;
    }
    const [file, argv] = options.wrap ? options.wrap(command, args) : [command, args];
    const child = spawn(file, argv, { env: cleanEnv(options.binPath), stdio: ['ignore', 'pipe', 'pipe'] });
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
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // Not installed is not a fault of the sdist: nothing ran, the work waits for a sandbox.
      const missing = err.code === 'ENOENT';
      reject(
        sandboxError(
          missing ? 'sandbox-unavailable' : 'sandbox-failed',
          missing
            ? `Nix is not installed here (${command} is not on PATH)`
            : `cannot start ${command}: ${err.message}`,
          { cause: err, hint: NIX_INSTALL_HINT },
        ),
      );
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) {
        reject(jobError('aborted', `${command} was aborted`));
        return;
      }
      if (options.wrap && status === 127 && /not found/.test(stderr)) {
        // the wrapper's `exec` found no such command: as a failed spawn above
        reject(
          sandboxError('sandbox-unavailable', `Nix is not installed here (${command} is not on PATH)`, {
            hint: NIX_INSTALL_HINT,
          }),
        );
        return;
      }
      resolve({ status, stdout, stderr, timedOut });
    });
  });
}
