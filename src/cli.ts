import { ApiError } from './cli/api-client.js';
import { kaasctlProgram } from './cli/program.js';

try {
  await kaasctlProgram().parseAsync(process.argv);
} catch (err) {
  const message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`kaasctl: ${message}\n`);
  process.exit(err instanceof ApiError && err.status < 500 ? 1 : 2);
}
