import { write, writeSync } from 'node:fs';

/** A batch is written once this many characters wait (about a hundred request lines). */
const BATCH_CHARS = 32 * 1024;
/** A line waits at most about this long for its batch (quiet periods, tests reading the log). */
const FLUSH_MS = 100;
/** Lines beyond this many waiting characters are dropped (counted) while the reader does not read. */
const MAX_WAITING_CHARS = 8 * 1024 * 1024;
/** At exit, a full pipe is retried this long before the rest is given up. */
const EXIT_RETRY_MS = 2000;

/**
 * pino's destination for log lines: each line is only kept in an array; the lines are joined and
 * written in one asynchronous write per ~32 KiB, every 100 ms, and synchronously at exit. sonic-boom
 * (pino.destination) appended each line to a growing batch string and measured that string's UTF-8
 * length per line, quadratic in the batch: ≈ 7 % of the gateway's CPU at 4 KiB batches
 * (docs/benchmarks-gateway.md). One write at a time, in order; a short write goes on with the rest.
 */
export class LogLinesDestination {
  private lines: string[] = [];
  private waitingChars = 0;
  private writing = false;
  private dropped = 0;

  constructor(private readonly fd: number) {
    setInterval(() => this.flush(), FLUSH_MS).unref();
  }

  /** pino's stream interface: one serialised line, newline included. */
  write(line: string): boolean {
    if (this.waitingChars > MAX_WAITING_CHARS) {
      this.dropped++;
      return false;
    }
    this.lines.push(line);
    this.waitingChars += line.length;
    if (!this.writing && this.waitingChars >= BATCH_CHARS) this.writeBatch();
    return true;
  }

  /** Starts writing what waits (pino's `logger.flush`); the callback does not wait for the write. */
  flush(callback?: (error?: Error) => void): void {
    if (!this.writing && this.lines.length > 0) this.writeBatch();
    callback?.();
  }

  /** Writes what waits now, blocking: for exit (a write in flight is left to finish by itself). */
  flushSync(): void {
    if (this.lines.length === 0) return;
    let batch = this.takeBatch();
    const giveUpAt = Date.now() + EXIT_RETRY_MS;
    while (batch.length > 0) {
      try {
        batch = batch.subarray(writeSync(this.fd, batch));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== 'EAGAIN' && code !== 'EBUSY') || Date.now() > giveUpAt) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }

  private writeBatch(): void {
    this.writing = true;
    this.writeAsync(this.takeBatch());
  }

  private writeAsync(batch: Buffer): void {
    write(this.fd, batch, 0, batch.length, null, (error, written) => {
      if (error !== null) {
        const code = error.code;
        // A full non-blocking pipe: retry shortly. Any other error (reader gone): this batch is lost.
        if (code === 'EAGAIN' || code === 'EBUSY') return void setTimeout(() => this.writeAsync(batch), 10);
      } else if (written < batch.length) {
        return this.writeAsync(batch.subarray(written));
      }
      this.writing = false;
      if (this.waitingChars >= BATCH_CHARS) this.writeBatch();
    });
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
    const destination = new LogLinesDestination(1);
    process.on('exit', () => destination.flushSync());
    stdoutLines = destination;
  }
  return stdoutLines;
}
