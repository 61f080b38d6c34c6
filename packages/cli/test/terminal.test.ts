import { PassThrough } from 'node:stream';
import type { RunnerStats } from '@pypi-graph/pipeline';
import { describe, expect, it } from 'vitest';
import { createTerminal, fit, humanLogLine, stageLines } from '../src/terminal';

const stats: RunnerStats = {
  queues: {
    'sdist-extract': { waiting: 13, active: 1, completed: 2, failed: 1, retried: 0 },
    discover: { waiting: 0, active: 0, completed: 1, failed: 0, retried: 0 },
    project: { waiting: 0, active: 3, completed: 7, failed: 0, retried: 0 },
  },
  failures: {},
};

/** A stream that looks like a terminal of `columns` columns and keeps what was written. */
function fakeTerminal(columns: number) {
  const stream = Object.assign(new PassThrough(), { columns, isTTY: true });
  let written = '';
  stream.on('data', (d) => {
    written += d;
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => written };
}

describe('the status block', () => {
  it('has one line per stage, in pipeline order', () => {
    expect(stageLines(stats)).toEqual([
      '  discover       1 done',
      '  project        7 done, 3 running',
      '  sdist-extract  2 done, 1 running, 13 waiting, 1 failed',
    ]);
  });

  it('cuts lines to the width, so that none wraps', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('abc', 4)).toBe('abc');
    const { stream, text } = fakeTerminal(30);
    const term = createTerminal({ interactive: true, stream });
    term.phase('opening the database (PGlite in /a/very/long/path/to/the/data)');
    term.stages(stats);
    term.settle();
    const lines = text()
      .replace(/\x1b\[\d*[AJK]|\r/g, '')
      .split('\n')
      .filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(29);
  });

  it('prints a log line above the block: the block is erased first and drawn again after it', () => {
    const { stream, text } = fakeTerminal(80);
    const term = createTerminal({ interactive: true, stream });
    term.phase('crawling'); // the first draw is immediate
    const before = text().length;
    term.logDestination!.write(
      `${JSON.stringify({ level: 40, time: '2026-12-06T05:16:00.558Z', pid: 1, file: 'x.tar.gz', sha256: 'f'.repeat(64), code: 'archive-corrupt', msg: 'sdist extraction failed' })}\n`,
    );
    const out = text().slice(before);
    // erase (cursor up over the one-line block, clear to the end), the line, the block again
    expect(out).toMatch(
      /^\x1b\[1A\r\x1b\[J05:16:00 warn {2}sdist extraction failed {2}file=x\.tar\.gz code=archive-corrupt\n\[\d+s\] crawling\n$/,
    );
  });

  it('draws nothing and leaves the logs as JSON when it is not a terminal', () => {
    const { stream, text } = fakeTerminal(80);
    const term = createTerminal({ interactive: false, stream });
    term.phase('crawling');
    term.stages(stats);
    expect(text()).toBe('');
    expect(term.logDestination).toBeUndefined();
  });
});

describe('humanLogLine', () => {
  it('reads a pino line as a person would, the error text last', () => {
    expect(
      humanLogLine(
        JSON.stringify({
          level: 50,
          time: '2026-12-06T05:16:00.558Z',
          pid: 9,
          job: 'sdist:abc',
          err: 'cannot read tar.gz',
          queue: 'sdist-extract',
          msg: 'job failed',
        }),
      ),
    ).toBe('05:16:00 error job failed  queue=sdist-extract err="cannot read tar.gz"');
  });

  it('passes a line that is not JSON through', () => {
    expect(humanLogLine('plain text\n')).toBe('plain text');
  });
});
