export { FAULT_KINDS, FaultRule, parseFaultRules } from './faults';
export type { IndexFile, Project, PypiIndex, Release } from './index-model';
export { MANIFEST_NAME, Manifest } from './manifest';
export { type PresetCensus, presetCensus } from './preset-census';
export {
  type DayChange,
  MAX_DAY,
  type PresetOptions,
  type PresetStatus,
  parsePresetSpec,
} from './preset-source';
export { type PypiServer, type PypiServerOptions, startPypiServer } from './server';
export type { RequestRecord, RouteKind, ServerStats } from './stats';
export { parseSyntheticSpec, type SyntheticOptions } from './synthetic';
export { CHANGELOG_PAGE } from './xmlrpc-methods';
