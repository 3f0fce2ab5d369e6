import { jest } from '@jest/globals';
import { kaasctlProgram, throwOnUsageErrors } from '../../src/cli/program.js';

/** Runs `kaasctl <args>` in this process against a test API with `token`; what it printed. */
export async function kaasctl(baseUrl: string, token: string, args: string[]): Promise<string> {
  const program = throwOnUsageErrors(kaasctlProgram({}));
  const printed: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['--url', baseUrl, '--token', token, ...args], { from: 'user' });
  } finally {
    write.mockRestore();
  }
  return printed.join('');
}
