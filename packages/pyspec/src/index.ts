export {
  type CoreMetadata,
  DEFAULT_METADATA_MAX_BYTES,
  MULTIPLE_USE_FIELDS,
  parseCoreMetadata,
} from './core-metadata';
export {
  type PackageType,
  packageTypeOf,
  parseSdistFilename,
  parseWheelFilename,
  SDIST_SUFFIXES,
  type SdistName,
  sdistSuffix,
  type WheelName,
} from './filenames';
export { ALL_BUCKETS, bucketOf, isValidProjectName, machNixName, pep503Name } from './names';
