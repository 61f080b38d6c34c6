/**
 * The exit status of every command (README.md, "Exit codes"). Scripts and schedulers rely on
 * these numbers: never renumber one, only add.
 */
export const EXIT = {
  /** The command did its work. Failures recorded against files (a broken archive, a setup.py that raises) are results, listed in the summary, not errors. */
  ok: 0,
  /** The command could not do its work: `error [code]: …` and a hint on stderr (configuration, database, a project not in the database, …). */
  error: 1,
  /** The command line is wrong: unknown command or option, missing argument. */
  usage: 2,
  /** The command ran to its end but part of the work failed in a way that running again may fix (a project that could not be read, a retryable failure such as `network-error`): the summary says what; `pnpm recrawl --failed` or `pnpm crawl --resume` takes it up. */
  incomplete: 3,
  /** The index (PYPI_URL) did not answer a first short request (DNS failure, connection refused, timeout): nothing was done. */
  indexUnreachable: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
