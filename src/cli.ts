import { printCompletions } from './cli/completion.js';
import { exitCodeOf, messageOf } from './cli/errors.js';
import { exitOnUsageErrors, kaasctlProgram } from './cli/program.js';

try {
  const program = kaasctlProgram();
  // The completion scripts' question: half a command line, not one to run.
  if (process.argv[2] === '__complete') await printCompletions(program, process.argv.slice(3));
  else await exitOnUsageErrors(program).parseAsync(process.argv);
} catch (err) {
  const message = messageOf(err);
  if (message !== undefined) process.stderr.write(`kaasctl: ${message}\n`);
  process.exit(exitCodeOf(err));
}
