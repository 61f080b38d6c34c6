// `pnpm demo` as a person sees it: under a real pseudo-terminal (util-linux `script`) 80 columns
// wide, its output rendered the way a terminal would (packages/test-support/src/screen.ts). The stages of the
// crawl (the sdist stage included), the phases of start-up and of the snapshot are shown; every
// line of the status block fits the width; warnings are printed on lines of their own, readable,
// never glued onto a progress line, never JSON.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderScreen } from '@pypi-graph/test-support';
import { afterAll, describe, expect, it } from 'vitest';

const COLUMNS = 80;
let dataDir: string | undefined;

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Runs `command` in a pseudo-terminal of COLUMNS columns; resolves with everything it wrote. */
async function inTerminal(
  command: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const childEnv: Record<string, string> = { TERM: 'xterm' };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) childEnv[k] = v;
  // A terminal session: CI (set by .ci/run) would turn the status block off.
  delete childEnv.CI;
  Object.assign(childEnv, env);
  // -q: no banner, -e: the command's exit status, -f: flush as it comes; the transcript file is
  // not needed, stdout carries the same bytes.
  const child = spawn('script', ['-qefc', `stty cols ${COLUMNS} rows 40; ${command}`, '/dev/null'], {
    cwd: path.resolve('.'),
    env: childEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new Error(`cannot start \`script\` (util-linux, Debian's bsdutils): ${err.message}`)),
    );
    child.on('close', resolve);
  });
  return { code, output };
}

describe('pnpm demo on an 80-column terminal', () => {
  it('shows each stage and phase on lines of its own that fit, with readable warnings above them', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'terminal-'));
    // Static sdist metadata only: the sdist stage still runs (downloads, reads, and warns about
    // the sdists that would need the sandbox), in a fraction of the time.
    const { code, output } = await inTerminal('pnpm demo', {
      DATA_DIR: dataDir,
      SDIST_EXTRACTION: 'static',
      LOG_LEVEL: 'info',
    });
    expect(code, output).toBe(0);
    const wrapped = new Set<number>();
    const rows = renderScreen(output, COLUMNS, wrapped);
    // Rows as lines: a row the text before it wrapped onto continues that line (a long log line).
    // Not every row as wide as the screen: a line of exactly 80 columns ends there (in CI the
    // demo's "served … (stopped now)" line was 80 wide and got glued to the next).
    const screen: string[] = [];
    for (const [i, row] of rows.entries()) {
      if (wrapped.has(i) && screen.length > 0) screen[screen.length - 1] += row;
      else screen.push(row);
    }
    const text = screen.join('\n');

    // The crawl's stages, the sdist stage included, left on the screen with their last numbers.
    const stageRows = screen.filter((r) =>
      /^ {2}(discover|project|wheel-metadata|sdist-extract) +\d+ done/.test(r),
    );
    expect(stageRows.map((r) => r.trim().split(/\s+/)[0])).toEqual(
      expect.arrayContaining(['discover', 'project', 'wheel-metadata', 'sdist-extract']),
    );
    expect(
      screen.some((r) => /^\[\d+s\] crawled$/.test(r)),
      text,
    ).toBe(true);
    // While it ran, the sdist stage was on screen with work in progress, not only at the end.
    expect(output).toMatch(/ {2}sdist-extract +\d+ done, \d+ (running|waiting)/);
    // Phases of start-up and of the snapshot were shown (drawn, then replaced). Only the ones that
    // last: the block is redrawn at most ten times a second, so a phase of a few milliseconds
    // (reaching the local index, or a bucket of the small fixture snapshot) may be replaced
    // before it is drawn: of the snapshot's 256 buckets, some are drawn.
    expect(output, 'opening the database').toContain('opening the database');
    expect(output).toMatch(/snapshot: writing bucket [0-9a-f]{2} \(\d+\/256\)/);
    // No status line is wider than the terminal: none wrapped.
    for (const m of output.matchAll(/\[\d+s\] [^\r\n\x1b]*|\n {2}[a-z-]+ +\d+ done[^\r\n\x1b]*/g)) {
      expect([...m[0].replace(/^\n/, '')].length, m[0]).toBeLessThan(COLUMNS);
    }

    // Warnings (the corrupt fixture archives, the sdists that need a sandbox): on rows of their
    // own, starting with their time, readable; never JSON, never after other text on a row.
    const logRows = screen.filter((r) => /^\d\d:\d\d:\d\d (warn|error) /.test(r));
    expect(logRows.length, text).toBeGreaterThan(0);
    expect(
      logRows.some((r) => r.includes('code=archive-corrupt')),
      text,
    ).toBe(true);
    expect(text).not.toContain('{"level"');
    for (const row of screen) {
      expect(/\S.*\d\d:\d\d:\d\d (warn|error|info) /.test(row), `glued: ${row}`).toBe(false);
    }
    // The block is gone when the result is printed: the summary follows the settled stages.
    expect(text).toMatch(/^projects crawled: +\d+$/m);
    expect(text).toMatch(/^ {2}nix hash: [0-9a-z]{52} \(sha256-/m);
  }, 300_000);
});
