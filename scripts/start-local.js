// `npm start`: one worker and one gateway against the local broker, for a try-out.
// Builds first if needed; Ctrl-C stops both (they drain and exit 0).
const { spawn, execFileSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
execFileSync(process.execPath, [join(__dirname, 'ensure-built.js')], { stdio: 'inherit' });

const port = process.env.PORT || '3000';
const children = ['fib-worker', 'gateway'].map((app) =>
  spawn(process.execPath, [join(root, 'dist/apps', app, 'main.js')], { stdio: 'inherit', env: process.env }),
);

let exiting = false;
for (const child of children) {
  child.on('exit', (code, signal) => {
    if (!exiting) {
      exiting = true;
      process.stderr.write(`a process exited (${signal || code}); stopping the other\n`);
      for (const other of children) if (other.exitCode === null) other.kill('SIGTERM');
    }
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(code || 0);
  });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    exiting = true;
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  });
}
setTimeout(() => process.stdout.write(`\nfib-rpc is up: curl http://localhost:${port}/fib/30\n\n`), 1500).unref();
