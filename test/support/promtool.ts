import { spawn } from 'node:child_process';

/**
 * `promtool check metrics` on a scrape: its exit code and everything it printed (a lint problem
 * is one line per metric, and exit code 3). promtool comes with Debian's `prometheus` package,
 * which scripts/deps.sh installs.
 */
export function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new Error("promtool not found: install Debian's prometheus package (scripts/deps.sh does)")
          : err,
      ),
    );
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}
