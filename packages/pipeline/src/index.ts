export type { JsonFileInfo, ProjectJsonInfo, PypiApi, SimpleFileInfo, SimpleProjectInfo } from './api';
export {
  type Backlog,
  type BacklogStore,
  deferring,
  FED_QUEUES,
  type FedQueue,
  MemoryBacklog,
  RedisBacklog,
} from './backlog';
export { BullmqRunner, type BullmqRunnerOptions, bullmqJobId } from './bullmq-runner';
export {
  type AnyQueueDefinition,
  type Enqueue,
  type EnqueueOptions,
  type JobInfo,
  type PipelineContext,
  PRIORITY_BACKFILL,
  PRIORITY_FRESH,
  QUEUE_NAMES,
  type QueueDefinition,
  type QueueName,
  type WheelMetadataReader,
} from './context';
export { EmbeddedRunner } from './embedded-runner';
export { Feeder, type FeederOptions } from './feeder';
export { type MergeResult, mergeProject } from './merge';
export {
  createMetrics,
  type JobOutcome,
  type JobTimer,
  METRIC_PREFIX,
  type MetricsOptions,
  PipelineMetrics,
  type PypiTrafficKind,
  processMetrics,
  type QueueDepthSource,
  recordedFailureCode,
} from './metrics';
export { QUEUES } from './queues';
export {
  type ReconcileOptions,
  type ReconcileResult,
  type ReconcileTarget,
  type RecrawlResult,
  reconcile,
  recrawlFailed,
} from './reconcile';
export { backoffMs, type QueueStats, type Runner, type RunnerStats } from './runner';
export { type DiscoverPayload, discoverQueue } from './stages/discover';
export { type ProjectJobResult, type ProjectPayload, projectQueue } from './stages/project';
export {
  enqueueSdists,
  SDIST_EXTRACTOR_VERSION,
  type SdistPayload,
  sdistQueue,
  sdistRequirementRows,
} from './stages/sdist-extract';
export {
  enqueueWheels,
  WHEEL_EXTRACTOR_VERSION,
  type WheelPayload,
  wheelQueue,
  wheelRequirementRows,
} from './stages/wheel-metadata';
