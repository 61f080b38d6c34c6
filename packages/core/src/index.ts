export {
  CrawlError,
  type CrawlErrorOptions,
  FAILURE_CODES,
  FAILURE_HINTS,
  type FailureCode,
  isCrawlError,
  isDatabaseUnavailable,
  isEnvironmentFault,
  isFailureCode,
  localFault,
  toCrawlError,
} from './errors';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './logger';
export { currentOwner, type OwnerState, ownerState, ProcessOwner } from './process-owner';
