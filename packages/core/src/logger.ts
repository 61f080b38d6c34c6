import { type DestinationStream, destination, type Logger, pino, stdTimeFunctions } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level: trace, debug, info, warn, error, fatal, silent. */
  level?: string;
  /** Where the JSON lines go; standard error by default so stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

/** The root logger. Data first: `log.info({ project, serial }, 'project crawled')`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? 'info', base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime },
    (options.destination as DestinationStream | undefined) ?? destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything, for library defaults and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
