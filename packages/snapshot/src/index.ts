export { narSha256, nixBase32, sriSha256 } from './nar';
export {
  FORMAT_VERSION,
  finishLatestSwitch,
  MANIFEST_FORMAT,
  type PublishOptions,
  type PublishResult,
  type PublishStats,
  publishSnapshot,
  type SnapshotManifest,
  type SnapshotMeta,
  type SnapshotSource,
  snapshotId,
} from './publish';
export { publishedRequirement } from './published-requirement';
export {
  buildPypiBucket,
  buildPypiBucketValue,
  type LayoutCounts,
  type PypiBucket,
  type PypiFile,
  type PypiProject,
  type PypiRelease,
} from './pypi-layout';
export { type PruneResult, pruneSnapshots } from './retention';
export {
  buildSdistBucket,
  buildSdistBucketValue,
  type SdistBucket,
  type SdistLayoutKind,
} from './sdist-layout';
export { GZIP_HEADER, GZIP_LEVEL, type TarGzResult, type TarOptions, writeTarGz } from './tarball';
export { readTree, type TreeNode } from './tree';
export {
  buildWheelBucket,
  buildWheelBucketValue,
  type WheelBucket,
  type WheelFile,
  type WheelProject,
} from './wheel-layout';
