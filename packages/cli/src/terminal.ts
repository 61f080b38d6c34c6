// What a person sees on stderr while a command runs. On a terminal: a status block at the bottom
// (the phase, then one line per stage of the pipeline), redrawn in place, every line cut to the
// terminal's width so that the block never wraps; log lines are printed human-readable above it,
// never glued onto it. Not on a terminal, or with CI set: no block at all, and the logs stay JSON
// lines on stderr for machines. Kept free of heavy imports: main.ts loads it before anything else.
import type { RunnerStats } from '@pypi-graph/pipeline';

/** What commands report while they work; every method is a no-op when nobody is watching. */
export interface StatusDisplay {
  /** What the command is doing now: "opening the database", "snapshot: pypi/ 3f.json (64/256)". */
  phase(text: string): void;
  /** Progress of each stage (queue) of the pipeline. */
  stages(stats: RunnerStats): void;
  /**
   * Leaves the block on the screen (a finished stage's last numbers), its first line saying
   * `done` instead of the phase, and starts a new block below it.
   */
  settle(done?: string): void;
  /** Removes the block, before the command's result goes to stdout. */
  clear(): void;
}

export interface Terminal extends StatusDisplay {
  /** True when there is a block to draw (stderr is a terminal and CI is unset). */
  readonly interactive: boolean;
  /** The logger's destination on a terminal (human-readable lines above the block); else undefined (JSON on stderr). */
  readonly logDestination: { write(chunk: string): boolean } | undefined;
}

/** The stages in pipeline order; a queue not listed here comes after them. */
const STAGE_ORDER = ['discover', 'project', 'wheel-metadata', 'sdist-extract', 'snapshot'];

/** The lines of the stage block: one per stage that has seen jobs, in pipeline order. */
export function stageLines(stats: RunnerStats): string[] {
  const names = Object.keys(stats.queues).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const width = Math.max(...names.map((n) => n.length), 0);
  return names.map((name) => {
    const s = stats.queues[name as keyof RunnerStats['queues']]!;
    const parts = [`${s.completed} done`];
    if (s.active > 0) parts.push(`${s.active} running`);
    if (s.waiting > 0) parts.push(`${s.waiting} waiting`);
    if (s.failed > 0) parts.push(`${s.failed} failed`);
    return `  ${name.padEnd(width)}  ${parts.join(', ')}`;
  });
}

function rank(name: string): number {
  const i = STAGE_ORDER.indexOf(name);
  return i < 0 ? STAGE_ORDER.length : i;
}

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
/** Fields a person does not need on a terminal: the JSON lines (not on a terminal) keep them. */
const DROPPED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'job', 'component']);

/**
 * One pino JSON line as a person reads it: `12:03:07 warn  sdist extraction failed  file=x.tar.gz
 * code=archive-corrupt err="…"`. A line that is not JSON is returned as it is.
 */
export function humanLogLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.replace(/\n$/, '');
  }
  if (typeof rec !== 'object' || rec === null) return line.replace(/\n$/, '');
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 19) : '';
  const level = (LEVELS[rec.level as number] ?? String(rec.level)).padEnd(5);
  // The sha256 of a file is long and its name says enough here.
  const drop = new Set(DROPPED);
  if ('file' in rec) drop.add('sha256');
  const fields = Object.entries(rec)
    .filter(([k, v]) => !drop.has(k) && v !== undefined)
    // the error text last: it is the longest
    .sort(([a], [b]) => Number(a === 'err') - Number(b === 'err'))
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  return [time, level, String(rec.msg ?? ''), ...(fields.length > 0 ? [` ${fields.join(' ')}`] : [])]
    .filter((p) => p !== '')
    .join(' ');
}

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** Cuts a line to `width` columns (one column per code point: what we print is plain text). */
export function fit(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(width - 1, 0)).join('')}…`;
}

export interface TerminalOptions {
  interactive: boolean;
  stream?: NodeJS.WriteStream;
  now?: () => number;
}

export function createTerminal(options: TerminalOptions): Terminal {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  if (!options.interactive) {
    return {
      interactive: false,
      logDestination: undefined,
      phase() {},
      stages() {},
      settle() {},
      clear() {},
    };
  }
  const started = now();
  let phase = '';
  let stages: string[] = [];
  /** Rows of the block on the screen now (each row ends with a newline). */
  let drawn = 0;
  let lastText = '';
  let lastDraw = 0;
  let pending: NodeJS.Timeout | undefined;
  let partial = '';
  // The elapsed time ticks even when nothing else changes (a long migration, a slow request).
  const ticker = setInterval(() => draw(), 1000);
  ticker.unref();

  const width = () => Math.max((stream.columns ?? 80) - 1, 20);
  const blockText = () => {
    const header = `[${Math.round((now() - started) / 1000)}s] ${phase}`;
    const lines = phase === '' && stages.length === 0 ? [] : [header, ...stages];
    return lines.map((l) => fit(l, width()));
  };
  const erase = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\r\x1b[J`);
    drawn = 0;
    lastText = '';
  };
  const draw = () => {
    if (pending) clearTimeout(pending);
    pending = undefined;
    lastDraw = now();
    const lines = blockText();
    const text = lines.map((l) => `${l}\n`).join('');
    if (text === lastText) return;
    erase();
    stream.write(text);
    drawn = lines.length;
    lastText = text;
  };
  // At most ten redraws a second: a snapshot reports 1,024 buckets in a few seconds.
  const redraw = () => {
    const wait = 100 - (now() - lastDraw);
    if (wait <= 0) draw();
    else if (!pending) {
      pending = setTimeout(draw, wait);
      pending.unref();
    }
  };
  stream.on?.('resize', () => {
    // Rows drawn at the old width may have been re-wrapped by the terminal: start clean below them.
    drawn = 0;
    lastText = '';
    draw();
  });

  return {
    interactive: true,
    logDestination: {
      write(chunk: string) {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        if (lines.length === 0) return true;
        erase();
        for (const line of lines) if (line !== '') stream.write(`${humanLogLine(line)}\n`);
        draw();
        return true;
      },
    },
    phase(text: string) {
      phase = text;
      redraw();
    },
    stages(stats: RunnerStats) {
      stages = stageLines(stats);
      redraw();
    },
    settle(done?: string) {
      if (done !== undefined) phase = done;
      draw();
      // What is on the screen stays there; the next block starts below it.
      drawn = 0;
      lastText = '';
      phase = '';
      stages = [];
    },
    clear() {
      if (pending) clearTimeout(pending);
      pending = undefined;
      erase();
      phase = '';
      stages = [];
    },
  };
}
