export {
  type CoreMetadata,
  DEFAULT_METADATA_MAX_BYTES,
  type DependencyFields,
  MULTIPLE_USE_FIELDS,
  parseCoreMetadata,
  readDependencyFields,
  readDescription,
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
export {
  evaluateMarker,
  type MarkerComparison,
  type MarkerEnvironment,
  type MarkerExpression,
  type MarkerNode,
  type MarkerOperand,
  type MarkerOperator,
  type MarkerTerm,
  markerEnvironment,
  markerToString,
  parseMarker,
} from './markers';
export { boundedMemo } from './memo';
export {
  ALL_BUCKETS,
  bucketOf,
  isValidProjectName,
  machNixName,
  normalizeExtra,
  pep503Name,
} from './names';
export {
  comparePep440,
  compareVersions,
  formatSpecifierSet,
  formatVersion,
  isPrerelease,
  isValidVersion,
  normalizeSpecifier,
  normalizeVersion,
  parseSpecifier,
  parseSpecifierSet,
  parseVersion,
  type SatisfiesOptions,
  type Specifier,
  type SpecifierOperator,
  satisfies,
  specifierSetContains,
  tryParseVersion,
  type Version,
} from './pep440';
export {
  dumpPython,
  dumpPythonChunks,
  dumpPythonEntry,
  type JsonValue,
  type PyObject,
  type PyValue,
  pyObject,
  pythonJsonDumps,
  pythonJsonString,
} from './python-json';
export { compareCodePoints, PY_WS, pyStrip, pythonQuote } from './python-str';
export {
  canonicalRequirement,
  formatRequirement,
  parseRequirement,
  type Requirement,
} from './requirements';
