export {
  BUILD_MEMORY_MIB,
  type Config,
  defaultSdistConcurrency,
  type Env,
  EnvSchema,
  loadConfig,
  parseSandboxPythons,
  SANDBOX_PARALLELISM,
  VERSION,
} from './config';
