export { type App, createRunner, databaseSnapshotSource, openApp, takeSnapshot } from './app';
export {
  type CrawlOptions,
  type CrawlOutcome,
  crawl,
  formatSummary,
  resolveSinceSerial,
} from './commands/crawl';
export { type Dashboard, type DashboardOptions, startDashboard } from './commands/dashboard';
export { formatRecrawl, type RecrawlOptions, type RecrawlOutcome, recrawl } from './commands/recrawl';
export { show } from './commands/show';
export { status } from './commands/status';
export { connectIndex, type IndexConnection, pipelineApi } from './index-connection';
export { type MetricsServer, type MetricsSource, startMetricsServer } from './metrics-server';
export {
  formatRefresh,
  missedSlot,
  parseSchedule,
  REFRESH_LOCK,
  type RefreshOutcome,
  Scheduler,
  type SchedulerOptions,
} from './scheduler';
export { parseSince, type Since } from './since';
