import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource } from 'typeorm';
import { readIfExists } from './config/bootstrap.js';
import { ConfigError, loadConfig } from './config/config.js';
import { dataSourceOptions } from './config/data-source.js';
import { generateApiKey } from './tenants/api-key-format.js';

/** Writes a file only if it does not exist yet (O_EXCL), readable by its owner alone. */
function createOnce(path: string, content: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, content, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * What `make run` does before starting the processes: local secrets on first start, then the
 * migrations. Safe to run again and again.
 */
async function main(): Promise<void> {
  const env = process.env;
  const dataDir = env.KAAS_DATA_DIR ?? `${process.cwd()}/.data`;
  if (!env.KAAS_SECRET_KEY) {
    const file = env.KAAS_SECRET_KEY_FILE ?? `${dataDir}/secret.key`;
    if (createOnce(file, randomBytes(32).toString('hex'))) console.log(`generated the secret key in ${file}`);
  }
  if (!env.KAAS_ADMIN_TOKEN) {
    const file = env.KAAS_ADMIN_TOKEN_FILE ?? `${dataDir}/admin-token`;
    if (createOnce(file, `${generateApiKey().key}\n`)) console.log(`generated an admin token in ${file}`);
    console.log(`admin token: stored in ${file} (export KAAS_ADMIN_TOKEN=$(cat ${file}))`);
  }
  const config = loadConfig(env, readIfExists);
  const ds = await new DataSource(dataSourceOptions(config.databaseUrl)).initialize();
  try {
    const ran = await ds.runMigrations({ transaction: 'each' });
    console.log(
      ran.length ? `applied migrations: ${ran.map((m) => m.name).join(', ')}` : 'database schema is up to date',
    );
  } finally {
    await ds.destroy();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`kaas-prepare: configuration error: ${err.message}`);
  else console.error(`kaas-prepare: ${(err as Error).message}`);
  process.exit(1);
});
