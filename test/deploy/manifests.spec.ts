import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * deploy/kubernetes, offline: `kubectl kustomize` renders the base and the example overlay, every rendered
 * object validates against its schema (scripts/validate-manifests.mjs: kubernetes-models and
 * @kubernetes-models/keda), a broken object fails that validation, and the objects say what
 * docs/kubernetes.md promises (probes, drain, hardening, Secrets as files, scaling, network policy).
 */

const ROOT = join(__dirname, '../..');
const VALIDATOR = join(ROOT, 'scripts/validate-manifests.mjs');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests: plain JSON, checked by shape below
type Obj = Record<string, any>;
interface Result {
  kind: string;
  name: string;
  ok: boolean;
  error?: string;
  object: Obj;
}

function validate(source: string, stdin?: string): { status: number | null; results: Result[]; stderr: string } {
  const run = spawnSync(process.execPath, [VALIDATOR, source, '--json'], {
    cwd: ROOT,
    input: stdin,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const results = run.stdout.trim() === '' ? [] : (JSON.parse(run.stdout) as Result[]);
  return { status: run.status, results, stderr: run.stderr };
}

function one(objects: Obj[], kind: string, name: string): Obj {
  const found = objects.filter((o) => o.kind === kind && (o.metadata.name as string) === name);
  expect(found.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([`${kind}/${name}`]);
  return found[0];
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

describe('deploy/kubernetes', () => {
  let overlay: ReturnType<typeof validate>;
  let objects: Obj[];
  beforeAll(() => {
    overlay = validate('deploy/kubernetes/overlays/example');
    objects = overlay.results.map((r) => r.object);
  });

  it('the example overlay and the base render, and every object validates against its schema', () => {
    expect(overlay.stderr).not.toMatch(/cannot render/);
    expect(overlay.results.filter((r) => !r.ok)).toEqual([]);
    expect(overlay.status).toBe(0);
    expect(overlay.results.map((r) => r.kind).sort()).toEqual(
      [
        'ConfigMap',
        'Deployment',
        'Deployment',
        'Namespace',
        'NetworkPolicy',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'PodDisruptionBudget',
        'ScaledObject',
        'Secret',
        'Secret',
        'Secret',
        'Service',
        'TriggerAuthentication',
      ].sort(),
    );
    const base = validate('deploy/kubernetes/base');
    expect(base.results.filter((r) => !r.ok)).toEqual([]);
    expect(base.status).toBe(0);
  });

  it('a broken manifest fails: wrong types, a missing required field, a kind with no schema, bad base64', () => {
    const broken = [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: two, selector: {}, template: {}}',
      'apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: b}\nspec: {minReplicaCount: 1}',
      'apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: c}',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: d}\ndata: {url: "not base64!"}',
    ];
    const run = validate('-', broken.join('\n---\n'));
    expect(run.status).toBe(1);
    expect(run.results.map((r) => [r.name, r.ok])).toEqual([
      ['a', false],
      ['b', false],
      ['c', false],
      ['d', false],
    ]);
    expect(run.results[0].error).toMatch(/replicas must be integer/);
    expect(run.results[1].error).toMatch(/scaleTargetRef/);
    expect(run.results[2].error).toMatch(/no schema/);
    // and one good object among them passes, so the failures are the objects' own
    expect(validate('-', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: e}').status).toBe(0);
  });

  it('runs non-root, read-only, without capabilities or privilege escalation, seccomp RuntimeDefault, with requests and limits', () => {
    for (const name of ['fib-gateway', 'fib-worker']) {
      const pod = one(objects, 'Deployment', name).spec.template.spec as Obj;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of pod.containers as Obj[]) {
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
        expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
      }
    }
  });

  it('readiness asks /health (can serve now), liveness a broker-independent endpoint; the grace period covers preStop + deadline', () => {
    const config = objects.find((o) => o.kind === 'ConfigMap') as Obj;
    const deadlineS = Number(config.data.RPC_TIMEOUT_MS) / 1000;
    for (const name of ['fib-gateway', 'fib-worker']) {
      const pod = one(objects, 'Deployment', name).spec.template.spec as Obj;
      const [container] = pod.containers as Obj[];
      expect(container.readinessProbe.httpGet.path).toBe('/health');
      // a broker outage makes /health 503: liveness on it would restart every pod during the outage
      expect(container.livenessProbe.httpGet.path).not.toBe('/health');
      expect(container.startupProbe.httpGet.path).toBe(container.livenessProbe.httpGet.path);
      const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
      const preStopS = preStop === undefined ? 0 : Number(preStop[preStop.length - 1]);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopS + deadlineS + 5);
    }
    // the gateway leaves the Service's endpoints before its listener closes
    const gateway = one(objects, 'Deployment', 'fib-gateway').spec.template.spec.containers[0] as Obj;
    expect(gateway.lifecycle.preStop.exec.command).toEqual(['sleep', '5']);
  });

  it('reads the broker URLs from Secret files (AMQP_URL_FILE), the CA from a TLS Secret, and names every Secret it renders', () => {
    const secrets = new Set(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name as string));
    // made outside this repository (cert-manager, the cluster operator): docs/kubernetes.md says how
    const external = new Set(['fib-rpc-amqp-tls']);
    for (const name of ['fib-gateway', 'fib-worker']) {
      const pod = one(objects, 'Deployment', name).spec.template.spec as Obj;
      const [container] = pod.containers as Obj[];
      const env = Object.fromEntries((container.env as Obj[]).map((e) => [e.name, e.value]));
      expect(env.AMQP_URL).toBeUndefined();
      for (const variable of ['AMQP_URL_FILE', 'AMQP_CA_FILE']) {
        const mount = (container.volumeMounts as Obj[]).find((m) =>
          (env[variable] as string).startsWith(`${m.mountPath}/`),
        );
        const volume = (pod.volumes as Obj[]).find((v) => v.name === mount?.name);
        expect({ variable, secret: typeof volume?.secret?.secretName }).toEqual({ variable, secret: 'string' });
        const secretName = volume?.secret.secretName as string;
        expect(secrets.has(secretName) || external.has(secretName)).toBe(true);
      }
    }
    const auth = one(objects, 'TriggerAuthentication', 'fib-worker-rabbitmq');
    for (const ref of auth.spec.secretTargetRef as Obj[]) {
      expect(secrets.has(ref.name as string) || external.has(ref.name as string)).toBe(true);
    }
    // the example's URL list names every node of a 3-node cluster, amqps
    const secret = objects.find(
      (o) => o.kind === 'Secret' && (o.metadata.name as string).startsWith('fib-rpc-worker-amqp'),
    );
    const urls = Buffer.from((secret?.data.url as string).replace(/\s/g, ''), 'base64')
      .toString()
      .trim()
      .split(',');
    expect(urls).toHaveLength(3);
    expect(urls.every((u) => u.startsWith('amqps://'))).toBe(true);
  });

  it('scales the workers with KEDA on the request queue, never to zero', () => {
    const scaled = one(objects, 'ScaledObject', 'fib-worker');
    const config = objects.find((o) => o.kind === 'ConfigMap') as Obj;
    expect(scaled.spec.scaleTargetRef.name).toBe('fib-worker');
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(scaled.spec.maxReplicaCount).toBeGreaterThan(scaled.spec.minReplicaCount);
    const rabbit = (scaled.spec.triggers as Obj[]).find((t) => t.type === 'rabbitmq') as Obj;
    expect(rabbit.metadata).toMatchObject({ protocol: 'amqp', mode: 'QueueLength', queueName: config.data.RPC_QUEUE });
    expect(Number(rabbit.metadata.value)).toBeGreaterThan(0);
    one(objects, 'TriggerAuthentication', rabbit.authenticationRef.name as string);
  });

  it('lets only the gateway be reached: ingress denied to every fib-rpc pod, the gateway port opened; Service and PDBs select real pods', () => {
    const pods = objects
      .filter((o) => o.kind === 'Deployment')
      .map((d) => d.spec.template.metadata.labels as Record<string, string>);
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const deny = policies.find((p) => p.spec.ingress === undefined) as Obj;
    expect(deny.spec.policyTypes).toEqual(['Ingress']);
    expect(pods.every((labels) => matches(deny.spec.podSelector.matchLabels, labels))).toBe(true);
    const open = policies.filter((p) => p.spec.ingress !== undefined);
    expect(open).toHaveLength(1);
    expect(open[0].spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe('gateway');
    expect(open[0].spec.ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);

    const service = one(objects, 'Service', 'fib-gateway');
    expect(pods.filter((labels) => matches(service.spec.selector, labels))).toHaveLength(1);
    for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
      expect(pods.filter((labels) => matches(pdb.spec.selector.matchLabels, labels))).toHaveLength(1);
    }
  });
});
