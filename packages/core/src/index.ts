export {
  CrawlError,
  type CrawlErrorOptions,
  FAILURE_CODES,
  FAILURE_HINTS,
  type FailureCode,
  isCrawlError,
  isDatabaseUnavailable,
  isFailureCode,
  toCrawlError,
} from './errors';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './logger';
