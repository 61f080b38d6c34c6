export { PY_ARCHIVES } from './archives';
export { CLI_MAIN, startCli, startTs, watch } from './child-process';
export { runCli, startCliWithEnv } from './cli-process';
export {
  type CrawlEnv,
  crawlEnv,
  type DbKind,
  deleteRedisPrefix,
  oraclePypi,
  type RunnerKind,
} from './crawl-env';
export {
  type DocLine,
  documentationCommandLines,
  documentationFiles,
  type HintScan,
  isCommandLine,
  markdownCommandLines,
  sourceCommandLines,
} from './doc-commands';
export { NO_NAMESPACES_PY, REACHED_PRELOAD } from './files';
export { type FixtureIndex, serveFixtures } from './fixture-index';
export {
  checkSnapshotRequirements,
  type MachNixVerdict,
  machNixAccepts,
  type PackagingReading,
  packagingReads,
  sdistBucketRequirements,
  wheelBucketRequirements,
} from './mach-nix-requirement';
export { freePort, type OwnPostgres, type OwnRedis, startOwnPostgres, startOwnRedis } from './own-services';
export { parseExposition, type Sample, sampleValue } from './prometheus';
export { renderScreen } from './screen';
export {
  createTestDatabase,
  hasNix,
  postgresAdminUrl,
  redisUrl,
  type TestDatabase,
  uniqueName,
} from './services';
