import { CommanderError } from 'commander';
import { ApiError } from './api-client.js';

/**
 * kaasctl's exit codes (docs/cli.md): 0 done; 1 refused or failed (the API said no, the server
 * could not be reached, a wait ended in failure or ran out); 2 usage (a command, flag or argument
 * kaasctl cannot use, found before anything is sent).
 */
export const EXIT = { done: 0, failed: 1, usage: 2 } as const;

/** A command line that kaasctl cannot use, found before anything is sent (exit 2). */
export class UsageError extends Error {}

/** Commander's codes that are not errors: help and version asked for. */
const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return NOT_ERRORS.has(err.code) ? EXIT.done : EXIT.usage;
  if (err instanceof UsageError) return EXIT.usage;
  return EXIT.failed;
}

/** The message kaasctl prints for an error (commander has printed its own already). */
export function messageOf(err: unknown): string | undefined {
  if (err instanceof CommanderError) return undefined;
  if (err instanceof ApiError || err instanceof Error) return err.message;
  return String(err);
}
