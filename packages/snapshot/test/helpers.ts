import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PyValue } from '@pypi-graph/pyspec';

/** Runs a Python 3 script with `input` on stdin and returns its stdout (throws on failure). */
export function runPython(script: string, input = ''): string {
  return execFileSync('python3', ['-c', script], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
}

/**
 * An oracle of test/fixtures, run as one script after published_requirement.py (the spelling of
 * published requirement strings, from Python's packaging, which python3 must have).
 */
export function oracleScript(name: string): string {
  const read = (file: string) => readFileSync(join(import.meta.dirname, 'fixtures', file), 'utf8');
  return `${read('published_requirement.py')}\n${read(name)}`;
}

/** Whether a command is on PATH. */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(
  prefix = 'snapshot-test-',
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A small deterministic PRNG (mulberry32), so a failing random case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A value in a tagged form Python rebuilds without any JSON object-order question:
 * ["o", [[k, v], …]] for an object, ["a", […]] for a list, ["z"] for null, ["v", scalar] otherwise.
 * Independent of the writer under test, so a writer bug cannot hide in the transport.
 */
export type Tagged = ['o', [string, Tagged][]] | ['a', Tagged[]] | ['z'] | ['v', string | number | boolean];

export function tag(value: PyValue): Tagged {
  if (value instanceof Map) return ['o', [...value].map(([k, v]) => [k, tag(v)] as [string, Tagged])];
  if (Array.isArray(value)) return ['a', value.map(tag)];
  if (value === null) return ['z'];
  return ['v', value as string | number | boolean];
}

export const PY_UNTAG = `
def untag(t):
    k = t[0]
    if k == 'o':
        return {key: untag(v) for key, v in t[1]}
    if k == 'a':
        return [untag(v) for v in t[1]]
    if k == 'z':
        return None
    return t[1]
`;
