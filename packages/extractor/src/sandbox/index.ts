export {
  DEFAULT_NIX_DIR,
  DEFAULT_SANDBOX_LIMITS,
  type RunSandboxOptions,
  runSandbox,
  type SandboxLimits,
  type SandboxRun,
  storeName,
} from './run-sandbox';
export {
  PYTHON_KEYS,
  type PythonKey,
  parseSandboxResults,
  SANDBOX_RESULT_CODES,
  type SandboxFailure,
  type SandboxResult,
  type SandboxResultCode,
  type SandboxResults,
  type SetupPyDependencies,
} from './schema';
