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
});
