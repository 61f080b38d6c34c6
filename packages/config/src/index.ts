export {
  type Config,
  type Env,
  EnvSchema,
  loadConfig,
  parseSandboxPythons,
  SANDBOX_PYTHON_KEYS,
  VERSION,
} from './config';
