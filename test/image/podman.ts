import { execFile } from 'node:child_process';

/** What one podman command printed, and how it ended. */
export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `podman ARGS` (bounded: killed after timeoutMs); never throws for a non-zero exit. */
export function podman(args: string[], timeoutMs = 60_000): Promise<PodmanResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      'podman',
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 124;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** `podman ARGS`, which must exit 0; resolves with its stdout. */
export async function podmanOk(args: string[], timeoutMs = 60_000): Promise<string> {
  const result = await podman(args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`podman ${args.join(' ')} exited ${result.code}:\n${result.stderr.slice(-4000)}`);
  }
  return result.stdout;
}

/** Containers this test process started, removed by `removeAll` whatever happened. */
export class Containers {
  private readonly names = new Set<string>();

  constructor(private readonly prefix: string) {}

  /** `podman run -d --name PREFIX-NAME ARGS IMAGE`: loopback only (host network), never a bridge. */
  async run(name: string, image: string, args: string[]): Promise<string> {
    const full = `${this.prefix}-${name}`;
    this.names.add(full);
    await podmanOk(['run', '-d', '--name', full, '--network=host', ...args, image], 60_000);
    return full;
  }

  async logs(name: string): Promise<string> {
    const result = await podman(['logs', name], 30_000);
    return result.stdout + result.stderr;
  }

  async removeAll(): Promise<void> {
    for (const name of this.names) await podman(['rm', '-f', '-t', '0', name], 60_000);
    this.names.clear();
  }
}
