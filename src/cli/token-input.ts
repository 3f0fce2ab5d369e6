import { readFileSync, statSync } from 'node:fs';
import type { TokenInput } from './context.js';

/**
 * The token `login` checks: piped in on stdin (`cat key | kaasctl login ...`), or typed at a prompt
 * that does not echo it when stdin is a terminal. Never an argument, which `ps` and shell history keep.
 */
export async function readToken(stdin: TokenInput, prompt: string): Promise<string> {
  const token = (stdin.isTTY ? await promptHidden(stdin, prompt) : await readAll(stdin)).trim();
  if (!token) throw new Error(stdin.isTTY ? 'no token given' : 'no token on standard input');
  if (/\s/.test(token)) throw new Error('the token has white space inside it; give the token alone');
  return token;
}

/** The token in a file, and a warning when others than its owner may read it. */
export function readTokenFile(path: string): { token: string; warning?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the token file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const token = text.trim();
  if (!token) throw new Error(`the token file ${path} is empty`);
  return { token, warning: looseModeWarning(path) };
}

/** Says so when others than its owner may read a token file, or when it is not there. */
export function looseModeWarning(path: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return `the token file ${path} does not exist (yet)`;
  }
  if (!(mode & 0o077)) return undefined;
  return `the token file ${path} has mode ${mode.toString(8).padStart(4, '0')}; chmod 600 it so only you can read it`;
}

async function readAll(stdin: TokenInput): Promise<string> {
  const chunks: string[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  return chunks.join('');
}

/** Reads one line from a terminal in raw mode, echoing nothing; Enter or Ctrl-D ends it, Ctrl-C gives up. */
function promptHidden(stdin: TokenInput, prompt: string): Promise<string> {
  if (!stdin.setRawMode) return Promise.reject(new Error('cannot read a token from this terminal'));
  const setRawMode = stdin.setRawMode.bind(stdin);
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.removeListener('data', onData);
      setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new Error('login cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}
