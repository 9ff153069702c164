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

// "up" means the gateway's /health sees the broker and a worker: a call made then is answered, not refused NO_WORKER.
const READY_WITHIN_MS = Number(process.env.START_READY_WITHIN_MS || 30_000);
const POLL_MS = 250;

/** What /health says now: { ready, why }. */
async function healthNow() {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    const body = await res.json().catch(() => ({}));
    const broker = (body.info && body.info.broker) || (body.error && body.error.broker) || {};
    if (res.status !== 200) return { ready: false, why: `/health ${res.status}: ${broker.message || 'broker down'}` };
    if (!(broker.workers > 0))
      return { ready: false, why: `no worker consuming ${broker.queue || 'the request queue'} yet` };
    return { ready: true, why: '' };
  } catch (error) {
    return { ready: false, why: `gateway not answering on port ${port} (${error.cause?.code || error.name})` };
  }
}

async function announceWhenReady() {
  const deadline = Date.now() + READY_WITHIN_MS;
  let last = { ready: false, why: 'not asked yet' };
  while (!exiting && Date.now() < deadline) {
    last = await healthNow();
    if (last.ready) {
      process.stdout.write(`\nfib-rpc is up: curl http://localhost:${port}/fib/30\n\n`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (exiting) return;
  process.stderr.write(
    `\nfib-rpc is NOT ready after ${READY_WITHIN_MS / 1000} s: ${last.why}.\n` +
      `Is RabbitMQ running at ${process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672'}? ` +
      `The apps keep retrying; GET http://localhost:${port}/health says when they are ready. Ctrl-C stops both.\n\n`,
  );
}
void announceWhenReady();
