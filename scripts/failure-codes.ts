// tsx scripts/failure-codes.ts: writes docs/failure-codes.md from the one list of failure codes
// (packages/core/src/errors.ts). test/repo/failure-codes.test.ts fails when the two differ.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { FAILURE_CODES, FAILURE_STAGE_TITLES, FAILURE_STAGES, type FailureCode } from '@pypi-graph/core';

export const FAILURE_CODES_DOC = path.resolve(import.meta.dirname, '..', 'docs', 'failure-codes.md');

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** docs/failure-codes.md as the list says it must be. */
export function renderFailureCodes(): string {
  const out = [
    '# Failure codes',
    '',
    '<!-- Generated from packages/core/src/errors.ts by scripts/failure-codes.ts: change the list there and',
    'run `tsx scripts/failure-codes.ts`; test/repo/failure-codes.test.ts fails when the two differ. -->',
    '',
    'Every failure pypi-graph records or reports carries one of these codes. The code is stored with',
    'the failed project or file, counted by `status` and the crawl summary, and chosen by',
    '`recrawl --failed --code C`; the strings never change. A code is created only through the factory',
    'of its stage (`archiveError`, `sandboxError`, … in packages/core), so each has the meaning and the',
    'default hint below; an error may bring a more precise hint of its own.',
    '',
    '- **retry**: running the same work again may succeed, so a job that ends with it is retried',
    '  (with backoff); a final code is recorded at once.',
    '- **environment**: a fault of the machine the job ran on, not of its file or project: never',
    '  recorded against them (the file keeps "no result" and is taken again by the next crawl).',
    '',
  ];
  for (const stage of FAILURE_STAGES) {
    out.push(`## ${stage}`, '', FAILURE_STAGE_TITLES[stage], '');
    out.push('| code | retry | meaning | default hint |', '| --- | --- | --- | --- |');
    for (const [code, info] of Object.entries(FAILURE_CODES) as Array<
      [FailureCode, (typeof FAILURE_CODES)[FailureCode]]
    >) {
      if (info.stage !== stage) continue;
      const retry = info.retry ? (info.environment ? 'yes, environment' : 'yes') : 'no';
      out.push(`| \`${code}\` | ${retry} | ${cell(info.meaning)} | ${cell(info.hint)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  writeFileSync(FAILURE_CODES_DOC, renderFailureCodes());
  console.log(`wrote ${path.relative(process.cwd(), FAILURE_CODES_DOC)}`);
}
