// Builds the apps when dist/ is missing or older than any source file, so
// `npm start` and `npm run fib` work straight after `npm ci`. `--stamp` (run
// at the end of `npm run build`) records when the build finished: webpack
// leaves unchanged outputs untouched, so their own mtimes say nothing.
const { execSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const outputs = ['gateway', 'fib-worker', 'cli'].map((app) => join(root, 'dist/apps', app, 'main.js'));
const stamp = join(root, 'dist/.built');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function isStale() {
  if (![...outputs, stamp].every((file) => existsSync(file))) return true;
  const built = statSync(stamp).mtimeMs;
  return ['apps', 'libs'].some((dir) => newest(join(root, dir)) > built);
}

if (process.argv.includes('--stamp')) {
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
} else if (isStale()) {
  process.stderr.write('building the apps (npm run build)…\n');
  execSync('npm run build --silent', { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
