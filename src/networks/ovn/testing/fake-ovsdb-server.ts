import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonStreamSplitter } from '../json-stream-splitter.js';

export interface ReceivedMessage {
  id?: unknown;
  method?: string;
  params?: unknown[];
  result?: unknown;
  error?: unknown;
}

/**
 * A scripted stand-in for ovsdb-server on a unix socket in a temporary folder (or on loopback
 * TCP): the test reads what the client sent and writes whatever bytes it wants back, including
 * broken ones, which a real server would never send.
 */
export class FakeOvsdbServer {
  readonly received: ReceivedMessage[] = [];
  private raw = '';
  private connection: Socket | undefined;
  private readonly waiters: (() => void)[] = [];
  private readonly connections = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly remote: string,
    private readonly dir: string,
  ) {
    server.on('connection', (socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
      this.connection = socket;
      const splitter = new JsonStreamSplitter(1 << 20);
      socket.on('data', (chunk: Buffer) => {
        this.raw += chunk.toString('utf8');
        for (const message of splitter.push(chunk)) {
          this.received.push(message as ReceivedMessage);
          this.waiters.splice(0).forEach((wake) => wake());
        }
      });
      socket.on('error', () => undefined);
      this.waiters.splice(0).forEach((wake) => wake());
    });
  }

  static async start(transport: 'unix' | 'tcp' = 'unix'): Promise<FakeOvsdbServer> {
    const dir = await mkdtemp(join(tmpdir(), 'kaas-fake-ovsdb-'));
    const server = createServer();
    if (transport === 'unix') {
      const path = join(dir, 'db.sock');
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
      return new FakeOvsdbServer(server, `unix:${path}`, dir);
    }
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return new FakeOvsdbServer(server, `tcp:127.0.0.1:${port}`, dir);
  }

  /** Everything the client wrote, as text. */
  rawText(): string {
    return this.raw;
  }

  /** The `n`th message from the client (0-based), once it has arrived. */
  async message(n: number, timeoutMs = 2000): Promise<ReceivedMessage> {
    await this.until(() => this.received.length > n, `message ${n} from the client`, timeoutMs);
    return this.received[n];
  }

  async connected(timeoutMs = 2000): Promise<void> {
    await this.until(() => this.connection !== undefined, 'a connection', timeoutMs);
  }

  /** Writes to the client: an object as JSON, a string as it is. */
  send(message: object | string): void {
    if (!this.connection) throw new Error('no client connected');
    this.connection.write(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Answers the `n`th message with `result`. */
  async reply(n: number, result: unknown): Promise<void> {
    const request = await this.message(n);
    this.send({ id: request.id, result, error: null });
  }

  dropConnection(): void {
    this.connection?.destroy();
  }

  async stop(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private async until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`fake ovsdb-server: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
