import { fstatSync, writeSync } from 'node:fs';

/** A batch is written once this many characters wait (about a hundred request lines). */
const BATCH_CHARS = 32 * 1024;
/** A line waits at most about this long for its batch (quiet periods, tests reading the log). */
const FLUSH_MS = 100;
/** Lines beyond this many waiting characters are dropped (counted) while the reader does not read. */
const MAX_WAITING_CHARS = 8 * 1024 * 1024;
/** A full pipe is tried again after this long. */
const RETRY_MS = 10;
/** At exit, a full pipe is retried this long before the rest is given up. */
const EXIT_RETRY_MS = 2000;

/**
 * pino's destination for log lines: each line is only kept in an array; the lines are joined and
 * written in one write per ~32 KiB, every 100 ms, and at exit. sonic-boom (pino.destination)
 * appended each line to a growing batch string and measured that string's UTF-8 length per line,
 * quadratic in the batch: ≈ 7 % of the gateway's CPU at 4 KiB batches (docs/benchmarks-gateway.md).
 * The write is synchronous — one syscall per hundred lines — so nothing is ever in flight: an exit
 * can neither lose a batch nor write later lines before it. A full pipe (EAGAIN) keeps the rest
 * waiting, in order, and is tried again shortly, without blocking the process (stdout, when a pipe,
 * is made non-blocking first: stdoutLogLines).
 */
export class LogLinesDestination {
  private lines: string[] = [];
  private waitingChars = 0;
  /** Bytes of a batch the fd has not taken yet (a full pipe): written before any later line. */
  private rest: Buffer | undefined;
  private retry: NodeJS.Timeout | undefined;
  private dropped = 0;
  /** flush(cb) callers waiting for a full pipe to take what waited. */
  private flushed: Array<(error?: Error) => void> = [];

  constructor(private readonly fd: number) {
    setInterval(() => this.flush(), FLUSH_MS).unref();
  }

  /** pino's stream interface: one serialised line, newline included. */
  write(line: string): boolean {
    if (this.waitingChars + (this.rest?.length ?? 0) > MAX_WAITING_CHARS) {
      this.dropped++;
      return false;
    }
    this.lines.push(line);
    this.waitingChars += line.length;
    if (this.waitingChars >= BATCH_CHARS && this.retry === undefined) this.writeOut();
    return true;
  }

  /** Writes what waits (pino's `logger.flush`); `callback` once it is written (a full pipe: later). */
  flush(callback?: (error?: Error) => void): void {
    const written = this.retry === undefined && this.writeOut();
    if (callback === undefined) return;
    if (written) callback();
    else this.flushed.push(callback);
  }

  /** Writes what waits now, a full pipe retried for up to 2 s: for exit. */
  flushSync(): void {
    const giveUpAt = Date.now() + EXIT_RETRY_MS;
    while (!this.writeOut() && Date.now() <= giveUpAt) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
    }
  }

  /** Writes the rest of the last batch, then everything waiting; false if the fd is full (a retry is set). */
  private writeOut(): boolean {
    let failed: Error | undefined;
    if (this.rest === undefined && this.lines.length > 0) this.rest = this.takeBatch();
    while (this.rest !== undefined) {
      try {
        while (this.rest.length > 0) this.rest = this.rest.subarray(writeSync(this.fd, this.rest));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EBUSY') {
          this.retry ??= setTimeout(() => {
            this.retry = undefined;
            this.writeOut();
          }, RETRY_MS).unref();
          return false;
        }
        // Any other error (the reader is gone): this batch is lost; later lines are tried.
        failed = error as Error;
      }
      this.rest = this.lines.length > 0 ? this.takeBatch() : undefined;
    }
    if (this.flushed.length > 0) {
      const callbacks = this.flushed;
      this.flushed = [];
      // each in a microtask of its own: one that throws neither loses the others nor throws into a write
      for (const callback of callbacks) queueMicrotask(() => callback(failed));
    }
    return true;
  }

  private takeBatch(): Buffer {
    if (this.dropped > 0) {
      this.lines.push(`{"level":40,"time":${Date.now()},"msg":"${this.dropped} log lines dropped: stdout not read"}\n`);
      this.dropped = 0;
    }
    const text = this.lines.join('');
    this.lines = [];
    this.waitingChars = 0;
    return Buffer.from(text, 'utf8');
  }
}

let stdoutLines: LogLinesDestination | undefined;

/** The process's one destination for stdout, flushed synchronously when the process exits. */
export function stdoutLogLines(): LogLinesDestination {
  if (stdoutLines === undefined) {
    unblockStdoutPipe();
    const destination = new LogLinesDestination(1);
    process.on('exit', () => destination.flushSync());
    stdoutLines = destination;
  }
  return stdoutLines;
}

/**
 * A pipe or socket inherited as stdout is usually blocking (a container runtime's, systemd's, a shell's
 * `| reader`): a write to it waits for the reader, and a reader that stops would stop the whole
 * process — calls, health, SIGTERM. Node's own `process.stdout` makes such an fd non-blocking
 * (libuv), as `console.log` does in any Node program; then a full pipe is EAGAIN, and the lines wait.
 */
function unblockStdoutPipe(): void {
  try {
    const stat = fstatSync(1);
    if (stat.isFIFO() || stat.isSocket()) void process.stdout.writable;
  } catch {
    // No stdout at all (closed): writes fail and lines are dropped, as before.
  }
}
