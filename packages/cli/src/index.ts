export { type App, createRunner, databaseSnapshotSource, openApp, takeSnapshot } from './app';
export {
  type CrawlOptions,
  type CrawlOutcome,
  crawl,
  formatSummary,
  resolveSinceSerial,
} from './commands/crawl';
export { show } from './commands/show';
export { status } from './commands/status';
export { parseSince, type Since } from './since';
