#!/usr/bin/env node
// Renders a kustomization with `kubectl kustomize` (offline) and validates every object against its schema:
// Kubernetes' own from the npm package kubernetes-models, KEDA's from @kubernetes-models/keda. An object of a
// kind neither package knows fails too, so nothing goes unchecked.
//
//   node scripts/validate-manifests.mjs DIR        render DIR and validate what it renders
//   node scripts/validate-manifests.mjs -          validate the YAML on stdin (one or more documents)
//   --json                                         print [{kind, name, ok, error, object}] instead of lines
// Exit status 0 when every object validates, 1 when one does not, 2 when nothing could be rendered or parsed.
// ESM because both model packages are ESM only.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// kubectl prints YAML only
const { loadAll } = require('js-yaml');

const args = process.argv.slice(2);
const json = args.includes('--json');
const source = args.find((arg) => arg !== '--json');
if (source === undefined) {
  process.stderr.write('usage: validate-manifests.mjs DIR|- [--json]\n');
  process.exit(2);
}

function render(dir) {
  if (dir === '-') return readFileSync(0, 'utf8');
  return execFileSync('kubectl', ['kustomize', dir], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
    // kustomize's deprecation warnings (the `bases` kept for Debian's kubectl 1.20) are not failures
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The model module of an apiVersion: core `v1`, `group/version`, and KEDA's groups from its own package. */
function modelModule(apiVersion) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'keda.sh' || group === 'eventing.keda.sh') return `@kubernetes-models/keda/${group}/${version}`;
  return group === '' ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
}

/**
 * kustomize 5 wraps a Secret's long base64 values over several lines; the API server's base64 decoding skips
 * line breaks, the schema's "byte" format does not: validate the value as the server reads it.
 */
function asTheApiServerReadsIt(object) {
  if (object.kind !== 'Secret' || object.data === null || typeof object.data !== 'object') return object;
  const data = Object.fromEntries(
    Object.entries(object.data).map(([key, value]) => [
      key,
      typeof value === 'string' ? value.replace(/[\r\n]/g, '') : value,
    ]),
  );
  return { ...object, data };
}

async function validate(object) {
  const kind = object?.kind ?? '?';
  const name = object?.metadata?.name ?? '?';
  try {
    if (typeof object?.apiVersion !== 'string' || typeof object?.kind !== 'string') {
      throw new Error('not a Kubernetes object (apiVersion and kind)');
    }
    let models;
    try {
      models = await import(modelModule(object.apiVersion));
    } catch {
      throw new Error(`no schema for apiVersion ${object.apiVersion}`);
    }
    const Model = models[object.kind];
    if (typeof Model !== 'function') throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
    new Model(asTheApiServerReadsIt(object)).validate();
    return { kind, name, ok: true, object };
  } catch (error) {
    return { kind, name, ok: false, error: error instanceof Error ? error.message : String(error), object };
  }
}

let objects;
try {
  objects = loadAll(render(source)).filter((doc) => doc !== null && doc !== undefined);
} catch (error) {
  process.stderr.write(`cannot render or parse ${source}: ${error instanceof Error ? error.message : error}\n`);
  process.exit(2);
}
const results = [];
for (const object of objects) results.push(await validate(object));
if (json) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  for (const r of results)
    process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.kind}/${r.name}${r.ok ? '' : `: ${r.error}`}\n`);
  process.stdout.write(`${results.filter((r) => r.ok).length} of ${results.length} objects valid\n`);
}
process.exit(results.length > 0 && results.every((r) => r.ok) ? 0 : 1);
