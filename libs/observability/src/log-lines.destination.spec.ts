import { spawn } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogLinesDestination } from './log-lines.destination';

describe('LogLinesDestination', () => {
  let dir: string;
  let path: string;
  let fd: number;
  const written = (): string => readFileSync(path, 'utf8');
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'log-lines-'));
    path = join(dir, 'out.log');
    fd = openSync(path, 'w');
  });

  afterEach(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  });

  it('keeps short lines until the periodic flush, then writes them in order', async () => {
    const destination = new LogLinesDestination(fd);
    destination.write('{"a":1}\n');
    destination.write('{"b":"é"}\n');
    expect(written()).toBe('');
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(written()).toBe('{"a":1}\n{"b":"é"}\n');
  });

  it('writes a batch as soon as 32 KiB wait, every line whole and in order', async () => {
    const destination = new LogLinesDestination(fd);
    const lines = Array.from({ length: 400 }, (_, i) => `{"i":${i},"pad":"${'x'.repeat(100)}"}\n`);
    for (const line of lines) destination.write(line);
    await settle();
    const out = written();
    expect(out.length).toBeGreaterThanOrEqual(32 * 1024);
    expect(lines.join('').startsWith(out)).toBe(true);
    destination.flushSync();
    await settle();
    expect(written()).toBe(lines.join(''));
  });

  it('flushSync writes what waits at once, before returning (the exit path)', () => {
    const destination = new LogLinesDestination(fd);
    destination.write('{"last":"words"}\n');
    destination.flushSync();
    expect(written()).toBe('{"last":"words"}\n');
  });

  it('flush(cb) starts the write of what waits', async () => {
    const destination = new LogLinesDestination(fd);
    destination.write('{"x":1}\n');
    const callback = jest.fn();
    destination.flush(callback);
    expect(callback).toHaveBeenCalled();
    await settle();
    expect(written()).toBe('{"x":1}\n');
  });

  it('has every line on its fd, in order, when flushSync returns, also with full batches before it (the exit path)', async () => {
    // Occupy libuv's threadpool (4 threads): a write handed to it could not complete before the exit flush.
    const busy = Array.from(
      { length: 4 },
      () => new Promise((resolve) => pbkdf2('x', 'y', 400_000, 64, 'sha512', resolve)),
    );
    const destination = new LogLinesDestination(fd);
    const lines = Array.from({ length: 2000 }, (_, i) => `{"i":${i},"pad":"${'x'.repeat(100)}"}\n`);
    for (const line of lines) destination.write(line);
    destination.flushSync();
    expect(written()).toBe(lines.join(''));
    await Promise.all(busy);
    expect(written()).toBe(lines.join(''));
  });

  it('never blocks on a full pipe: lines wait in order, beyond 8 MiB are dropped and counted, all go once it is read', async () => {
    // `cat` whose output nobody reads: its input, a non-blocking pipe, fills after ~128 KiB.
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      const pipeFd = (cat.stdin as unknown as { _handle: { fd: number } })._handle.fd;
      const destination = new LogLinesDestination(pipeFd);
      const lines = Array.from({ length: 90_000 }, (_, i) => `{"i":${i},"pad":"${'x'.repeat(100)}"}\n`); // ≈ 10 MiB
      const startedAt = Date.now();
      for (const line of lines) destination.write(line);
      destination.flush();
      expect(Date.now() - startedAt).toBeLessThan(2000); // nothing waited for the reader
      let out = '';
      cat.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      const deadline = Date.now() + 15_000;
      while (!out.includes('log lines dropped') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        destination.flush();
      }
      const [kept, warning] = out.split(/(?<=\n)(?=\{"level":40)/);
      const dropped = Number(/"(\d+) log lines dropped: stdout not read"/.exec(warning)?.[1]);
      const keptCount = kept.split('\n').length - 1;
      expect(kept).toBe(lines.slice(0, keptCount).join(''));
      expect(kept.length).toBeGreaterThan(8 * 1024 * 1024);
      expect(keptCount + dropped).toBe(lines.length);
    } finally {
      cat.kill();
    }
  }, 30_000);

  it('calls flush(cb) back only once what waited is written, not while a full pipe holds it', async () => {
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      const pipeFd = (cat.stdin as unknown as { _handle: { fd: number } })._handle.fd;
      const destination = new LogLinesDestination(pipeFd);
      const lines = Array.from({ length: 20_000 }, (_, i) => `{"i":${i},"pad":"${'x'.repeat(100)}"}\n`); // ≈ 2.2 MiB
      for (const line of lines) destination.write(line);
      const flushed: string[] = [];
      destination.flush(() => flushed.push('first'));
      destination.flush(() => flushed.push('second'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(flushed).toEqual([]); // the pipe is full: nothing has been written through
      let out = '';
      cat.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      const deadline = Date.now() + 10_000;
      while (flushed.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(flushed).toEqual(['first', 'second']);
      while (out.length < lines.join('').length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(out).toBe(lines.join(''));
    } finally {
      cat.kill();
    }
  }, 20_000);

  it('keeps a process running when its stdout is a blocking pipe nobody reads (a stalled log collector)', async () => {
    // A child loads this file (transpiled here, no ts-node: it touches stdout) and writes ~10 MB of lines to fd 1,
    // a pipe this test never reads; then a timer must fire and the process exit.
    const child = spawn(process.execPath, ['-e', STALLED_STDOUT_CHILD, require.resolve('./log-lines.destination')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      child.stdout.pause();
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const code = await Promise.race([
        exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 10_000)),
      ]);
      expect({ code, err }).toEqual({ code: 0, err: 'alive\n' });
    } finally {
      child.kill('SIGKILL');
    }
  }, 20_000);
});

const STALLED_STDOUT_CHILD = `
const { readFileSync } = require('node:fs');
const ts = require('typescript');
const Module = require('node:module');
const path = process.argv[1];
const compiled = new Module(path);
compiled.paths = Module._nodeModulePaths(path);
compiled._compile(ts.transpileModule(readFileSync(path, 'utf8'), { compilerOptions: { module: 1, target: 9 } }).outputText, path);
const destination = compiled.exports.stdoutLogLines();
const line = '{"pad":"' + 'x'.repeat(200) + '"}\\n';
for (let i = 0; i < 50000; i++) destination.write(line);
setTimeout(() => { process.stderr.write('alive\\n'); process.exit(0); }, 100);
`;
