export { type Config, type Env, EnvSchema, loadConfig, VERSION } from './config';
