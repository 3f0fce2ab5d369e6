import { existsSync, readFileSync } from 'node:fs';
import { type AppConfig, ConfigError, loadConfig } from './config.js';

export function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** Loads the configuration or stops the process with one line naming the variable. */
export function loadConfigOrExit(processName: string): AppConfig {
  try {
    return loadConfig(process.env, readIfExists);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${processName}: configuration error: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}
