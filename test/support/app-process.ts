import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './broker';

const ROOT = join(__dirname, '../..');

export type AppName = 'gateway' | 'fib-worker' | 'cli';

/**
 * A built app (`dist/apps/<name>/main.js`) run as a child process, so signals
 * and kills are real. Its output is kept for assertions.
 */
export class AppProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  /** `stdout: 'ignore'` discards the app's log lines (benchmarks: capturing them costs the caller CPU). */
  constructor(
    readonly name: AppName,
    env: Record<string, string>,
    args: string[] = [],
    { stdout = 'pipe' }: { stdout?: 'pipe' | 'ignore' } = {},
  ) {
    this.child = spawn(process.execPath, [join(ROOT, 'dist/apps', name, 'main.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', LOG_LEVEL: 'info', WORKER_HTTP_PORT: '0', PORT: '0', ...env },
      stdio: ['ignore', stdout, 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a line of output matching `pattern`; returns its match. */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const what = `${this.name} to print ${pattern}`;
    await waitFor(() => pattern.test(this.output) || !this.running, timeoutMs, what).catch((error: Error) => {
      throw new Error(`${error.message}\n--- ${this.name} output ---\n${this.output}`);
    });
    const match = this.output.match(pattern);
    if (match === null) throw new Error(`${this.name} exited waiting for ${pattern}\n--- output ---\n${this.output}`);
    return match;
  }

  /** Base URL of the gateway once it listens. */
  async httpUrl(timeoutMs = 10_000): Promise<string> {
    const match = await this.waitForOutput(/listening on (http:\/\/[^\s]+?) /, timeoutMs);
    return match[1].replace('[::1]', '127.0.0.1');
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Kills the process if it still runs; for afterAll/afterEach. */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}
