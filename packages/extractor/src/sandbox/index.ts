export type { BuildResolver } from './build-deps';
export { DEFAULT_NIX_DIR } from './build-options';
export {
  type BuildCgroupReport,
  type BuildLimits,
  CGROUPS_OFF_HINT,
  type CgroupPolicy,
  type CgroupSupport,
  DEFAULT_BUILD_LIMITS,
  detectCgroups,
} from './cgroup';
export { NIX_INSTALL_HINT } from './nix';
export {
  PROBE_CHECKS,
  type ProbeCheck,
  type ProbeCheckResult,
  type ProbeOptions,
  probeSandbox,
  SANDBOX_HINT,
  SandboxGate,
  type SandboxGateOptions,
  type SandboxState,
  type SandboxVerdict,
  sandboxGate,
} from './probe';
export {
  describeHostPythons,
  type HostPython,
  type HostPythonSet,
  hasDriverPython,
  type MissingPython,
  NO_PYTHONS_HINT,
  type PythonSource,
  type ResolveHostPythonsOptions,
  resolveHostPythons,
} from './pythons';
export {
  type BuildWheelFile,
  DEFAULT_SANDBOX_LIMITS,
  type DriverTimings,
  type RunSandboxOptions,
  runSandbox,
  type SandboxLimits,
  type SandboxPhases,
  type SandboxRun,
  storeName,
} from './run-sandbox';
export {
  PYTHON_FULL_VERSIONS,
  parseSandboxResults,
  SANDBOX_RESULT_CODES,
  type SandboxFailure,
  type SandboxResult,
  type SandboxResultCode,
  type SandboxResults,
  type SetupPyDependencies,
  sandboxResultsFrom,
} from './schema';
export {
  configuredHostPythons,
  createSdistExtractor,
  hostPythonLines,
  type SdistExtractorHooks,
  StoreSweeper,
} from './sdist-extractor';
