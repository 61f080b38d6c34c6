export {
  pureTagsFit,
  resolveBuildDependencies,
  SANDBOX_PROVIDED,
} from './build-deps';
export {
  type BulkChangelog,
  type BulkExtraction,
  type BulkFile,
  type BulkLoadOptions,
  type BulkLoadResult,
  type BulkProject,
  type BulkRelease,
  type BulkRequirement,
  type BulkRows,
  type BulkTable,
  type BulkWriter,
  bulkLoad,
} from './bulk';
export {
  advanceCrawlState,
  getCrawlState,
  insertChangelog,
  serialBefore,
} from './changelog';
export { type Database, type DatabaseOptions, type Db, openDatabase } from './connection';
export { databaseFault, isDatabaseUnavailable } from './errors';
export { type ExplainedStatement, explainCalls } from './explain';
export {
  type ExtractionRecord,
  type FileDependencies,
  fileBySha256,
  isWaitingForSandbox,
  projectDependencies,
  type RequirementKind,
  type RequirementRow,
  saveExtraction,
  sdistsWithoutDependencies,
  type WheelToRead,
  wheelsWithoutMetadata,
} from './extractions';
export { MIGRATIONS_DIR, type MigrationResult, migrate } from './migrate';
export {
  abandonRunningRefreshes,
  addPendingProjects,
  clearPendingProject,
  countFilesWithoutResult,
  countPendingProjects,
  type FailedFile,
  type FailedProject,
  type FailedWorkFilter,
  type FileWithoutResult,
  failedFileWork,
  failedProjectWork,
  filesWithoutResultByIds,
  finishRefresh,
  lastRefresh,
  listFilesWithoutResult,
  listPendingProjects,
  type PendingProject,
  type RefreshRow,
  recentRefreshes,
  SETUP_PY_OUTCOME_CODES,
  startRefresh,
} from './operations';
export {
  type FileRecord,
  type FileSummary,
  failedProjects,
  getProject,
  listFiles,
  listProjects,
  markProjectRemoved,
  type ProjectRecord,
  type ProjectSummary,
  type ProjectView,
  recordProjectFailure,
  type SaveResult,
  saveProject,
} from './projects';
export { SDIST_RESULTS_VERSION, sdistResults } from './sdist-results';
export { getSetting, type SettingKey, setSetting } from './settings';
export {
  bucketTokens,
  type PypiFileRow,
  type PypiProjectRows,
  pypiBucket,
  type SdistExtractionRows,
  type SdistProjectRows,
  type SdistReleaseRows,
  sdistBucket,
  snapshotMeta,
  type WheelProjectRows,
  type WheelRow,
  wheelBucket,
} from './snapshot-queries';
export {
  analyzeForSnapshot,
  type CrawlSummary,
  crawlSummary,
  failuresByCode,
  latestSnapshot,
  projectsToShow,
  recordSandboxCheck,
  recordSnapshot,
  type SandboxCheckRow,
  type SnapshotRow,
  type StoreCounts,
  sandboxOverview,
  storeCounts,
} from './stats';
