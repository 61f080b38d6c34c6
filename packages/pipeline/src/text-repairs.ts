import type { Logger } from '@pypi-graph/core';

/**
 * One warning when an extraction's text needed repairs to be stored (lines that were not UTF-8,
 * NULs, unpaired surrogates: see `extractions.text_repairs`); silent for clean text.
 */
export function logRepairs(log: Logger, textRepairs: number, details: Record<string, unknown> = {}): void {
  if (textRepairs === 0) return;
  log.warn(
    { textRepairs, ...details },
    'stored with text repairs (lines that were not UTF-8 read as Latin-1, NULs and unpaired surrogates replaced by U+FFFD)',
  );
}
