import { type Proc, startProcess, waitFor } from './processes.js';

/**
 * One of the built entry points kept running the way a service manager would: a process that
 * exits on its own (say, it could not reach PostgreSQL while starting) is started again after a
 * short pause. `kill()` is the SIGKILL of a chaos test: the process dies at once and a new one
 * starts right away, without waiting for it to be ready.
 */
export class SupervisedProcess {
  proc!: Proc;
  /** Every process this slot has run, for the logs kept after a failure. */
  readonly history: Proc[] = [];
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    private readonly isReady: (proc: Proc) => Promise<boolean>,
    private readonly onExit: (name: string, code: number | null, output: string) => void = () => undefined,
  ) {}

  start(): void {
    const proc = startProcess(this.entry, this.env);
    this.proc = proc;
    this.history.push(proc);
    proc.child.on('exit', (code, signal) => {
      if (this.stopped || this.proc !== proc || signal === 'SIGKILL') return;
      this.onExit(this.name, code, proc.output());
      setTimeout(() => {
        if (!this.stopped && this.proc === proc) this.start();
      }, 500);
    });
  }

  async kill(): Promise<void> {
    const old = this.proc;
    await old.stop('SIGKILL');
    if (!this.stopped) this.start();
  }

  async ready(timeoutMs: number): Promise<void> {
    await waitFor(`${this.name} to be ready`, () => this.isReady(this.proc), timeoutMs, 100);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.proc?.stop('SIGKILL');
  }
}
