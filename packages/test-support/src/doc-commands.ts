// Finds the command lines that the documentation and the CLI tell a person to type, so that
// test/e2e/docs-commands.test.ts can run each one. Mechanical on purpose: a new line in a doc or
// a new hint is found without anyone adding it to a list.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface DocLine {
  /** The line as written (continuations joined, trailing `# comment` removed). */
  line: string;
  /** Where it was found: `README.md:12`, `packages/cli/src/commands/show.ts:33`. */
  where: string;
}

/** Words that start a command line (after optional `VAR=value` assignments). */
const COMMANDS = [
  'pnpm',
  'npm',
  'npx',
  'corepack',
  'bash',
  'sh',
  'docker',
  'docker-compose',
  'apt-get',
  'apt',
  'sudo',
  'nix-build',
  'nix-store',
  'nix-instantiate',
  'nix-collect-garbage',
  'nix-hash',
  'python3',
  'git',
  'curl',
  'ssh',
  'systemctl',
  'export',
  'cat',
  'cd',
  'tar',
];
const ASSIGNMENT = String.raw`[A-Z_][A-Z0-9_]*=\S*`;
const COMMAND_LINE = new RegExp(`^(?:${ASSIGNMENT}\\s+)*(?:${COMMANDS.join('|')})(?:\\s|$)`);

/** Whether `text` reads as a command line (a known command, perhaps after `VAR=value`s). */
export function isCommandLine(text: string): boolean {
  return COMMAND_LINE.test(text.trim());
}

/** A line of a shell block without its trailing comment (`  # why`), a `$ ` prompt and blanks. */
function stripShellComment(line: string): string {
  let text = line.replace(/^\s*\$\s+/, '');
  // A comment starts at a `#` preceded by blanks, outside quotes (good enough for docs).
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      text = text.slice(0, i);
      break;
    }
  }
  return text.trim();
}

/**
 * Command lines of one markdown text: every line of a fenced block marked `sh`, `bash`, `shell`
 * or `console` (heredoc bodies and pure `VAR=value` lines skipped: they are file contents and
 * settings, not commands), and every inline code span that reads as a command line.
 */
export function markdownCommandLines(text: string, file: string): DocLine[] {
  const out: DocLine[] = [];
  const lines = text.split('\n');
  let fence: string | undefined;
  let shell = false;
  let heredoc: string | undefined;
  let pending: { text: string; at: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const fenceMatch = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(raw);
    if (fenceMatch && (fence === undefined || raw.trim().startsWith(fence))) {
      if (fence === undefined) {
        fence = fenceMatch[1];
        shell = ['sh', 'bash', 'shell', 'console'].includes(fenceMatch[2] ?? '');
      } else {
        fence = undefined;
        shell = false;
        heredoc = undefined;
      }
      continue;
    }
    if (fence !== undefined) {
      if (!shell) continue;
      if (heredoc !== undefined) {
        if (raw.trim() === heredoc) heredoc = undefined;
        continue;
      }
      let text = stripShellComment(raw);
      if (pending) {
        text = `${pending.text} ${text}`;
      }
      if (text.endsWith('\\')) {
        pending = { text: text.slice(0, -1).trim(), at: pending?.at ?? i };
        continue;
      }
      const at = pending?.at ?? i;
      pending = undefined;
      const doc = /<<-?\s*'?"?(\w+)'?"?/.exec(text);
      if (doc) heredoc = doc[1];
      // Settings (`VAR=value` alone, as in an .env file) are not commands.
      if (text === '' || (/^[A-Z_][A-Z0-9_]*=/.test(text) && !isCommandLine(text))) continue;
      out.push({ line: text, where: `${file}:${at + 1}` });
      continue;
    }
    for (const m of raw.matchAll(/`([^`]+)`/g)) {
      const span = m[1]!.trim();
      if (isCommandLine(span)) out.push({ line: span, where: `${file}:${i + 1}` });
    }
  }
  return out;
}

/** The markdown files whose command lines are tested: README.md and everything under docs/. */
export function documentationFiles(root: string): string[] {
  const docs = readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

export function documentationCommandLines(root: string): DocLine[] {
  return documentationFiles(root).flatMap((file) =>
    markdownCommandLines(readFileSync(path.join(root, file), 'utf8'), file),
  );
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.isFile() && e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Source text without full-line `//` comments and `/* … *\/` blocks: what reaches a person. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/^\s*\/\/.*$/gm, '');
}

export interface HintScan {
  lines: DocLine[];
  /** `pnpm …` written outside backticks in a string (so it cannot be found as a command). */
  unquoted: DocLine[];
}

/**
 * Command lines the CLI prints (hints, help texts, summaries) found in the source of `dirs`:
 * every backticked span that starts with `pnpm `, in a string (comments are left out). Inside
 * template literals the backticks are escaped (`\``). A `pnpm ` in a string outside backticks is
 * reported, so that every command the CLI tells a person about can be found here.
 */
export function sourceCommandLines(root: string, dirs: string[]): HintScan {
  const lines: DocLine[] = [];
  const unquoted: DocLine[] = [];
  for (const dir of dirs) {
    for (const file of sourceFiles(path.join(root, dir))) {
      const rel = path.relative(root, file);
      const text = withoutComments(readFileSync(file, 'utf8'));
      text.split('\n').forEach((line, i) => {
        const where = `${rel}:${i + 1}`;
        let rest = line;
        for (const m of line.matchAll(/\\?`(pnpm [^`\\]*)\\?`/g)) {
          lines.push({ line: m[1]!.trim(), where });
          rest = rest.replace(m[0], '');
        }
        // `pnpm …` left in a string literal ('…', "…" or a template) outside backticks.
        if (/['"`][^'"`]*\bpnpm [a-z]/.test(rest) && !/\bimport\b/.test(rest)) {
          unquoted.push({ line: line.trim(), where });
        }
      });
    }
  }
  return { lines, unquoted };
}
