import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { processes } from '../../processes';
import { configLoaders, read, root, sampleSecrets, statusOfSharedRoutes } from './support';

/**
 * The Kubernetes manifests, rendered as `kubectl apply -k` would (kustomize, offline), validated
 * against the Kubernetes schemas (kubernetes-models) and KEDA's (its models package), and checked
 * against the one description of the processes and each process's configuration schema.
 */
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped data, checked field by field
type Data = any;
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: Data;
};

const overlays = ['dev', 'prod', 'prod-keda'] as const;

function render(overlay: string): K8sObject[] {
  let yaml: string;
  try {
    yaml = execFileSync('kubectl', ['kustomize', `${root}/deploy/k8s/overlays/${overlay}`], { encoding: 'utf8' });
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    throw new Error(missing ? 'kubectl is not installed: it renders the overlays (kubectl kustomize)' : String(error));
  }
  return parseAllDocuments(yaml).map((doc) => doc.toJS() as K8sObject);
}
const rendered = Object.fromEntries(overlays.map((o) => [o, render(o)])) as Record<
  (typeof overlays)[number],
  K8sObject[]
>;

const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

/** The model class of a built-in or KEDA kind, whose validate() checks an object against the schema. */
async function modelOf(
  apiVersion: string,
  kind: string,
): Promise<(new (data: object) => { validate(): void }) | undefined> {
  const module =
    apiVersion === 'keda.sh/v1alpha1'
      ? await import('@kubernetes-models/keda/keda.sh/v1alpha1')
      : await import(`kubernetes-models/${apiVersion}`).catch(() => undefined);
  return module?.[kind];
}

/** What the CloudNativePG operator generates for a Cluster: the `<cluster>-app` secret's `uri`. */
function cnpgAppSecrets(objects: K8sObject[]): Record<string, Record<string, string>> {
  const secrets: Record<string, Record<string, string>> = {};
  for (const cluster of objects.filter((o) => o.kind === 'Cluster')) {
    const { database, owner } = cluster.spec.bootstrap.initdb;
    const host = `${cluster.metadata.name}-rw.${cluster.metadata.namespace}`;
    secrets[`${cluster.metadata.name}-app`] = { uri: `postgresql://${owner}:generated@${host}:5432/${database}` };
  }
  return secrets;
}

/** The secrets prod expects to exist, created by hand as deploy/README.md shows (never in git). */
function documentedSecrets(): Record<string, Record<string, string>> {
  const readme = read('deploy/README.md');
  const secrets: Record<string, Record<string, string>> = {};
  for (const match of readme.matchAll(/kubectl -n \S+ create secret generic (\S+)((?:[^\n]*\\\n)*[^\n]*)/g)) {
    const keys = [...(match[2] as string).matchAll(/--from-\w+=([A-Z_]+)/g)].map((m) => m[1] as string);
    secrets[match[1] as string] = Object.fromEntries(keys.map((k) => [k, sampleSecrets()[k] ?? 'secret']));
  }
  return secrets;
}

/** A container's environment as the kubelet would build it: envFrom in order, then env. */
function environmentOf(objects: K8sObject[], container: K8sObject, external: Record<string, Record<string, string>>) {
  const secretData = (name: string): Record<string, string> | undefined => {
    const secret = find(objects, 'Secret', name);
    if (secret) {
      const decoded = Object.fromEntries(
        Object.entries((secret.data ?? {}) as Record<string, string>).map(([k, v]) => [
          k,
          Buffer.from(v, 'base64').toString(),
        ]),
      );
      return { ...decoded, ...secret.stringData };
    }
    return external[name];
  };
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const data = source.configMapRef
      ? find(objects, 'ConfigMap', source.configMapRef.name)?.data
      : secretData(source.secretRef.name);
    if (!data) throw new Error(`envFrom ${JSON.stringify(source)} refers to nothing`);
    Object.assign(env, data);
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.secretKeyRef) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      const value = secretData(name)?.[key];
      if (value === undefined) throw new Error(`${variable.name}: secret ${name} has no key ${key}`);
      env[variable.name] = value;
    } else throw new Error(`${variable.name}: unsupported source`);
  }
  return env;
}

/** Does a label selector (matchLabels / matchExpressions In) select these labels? */
function selects(selector: Data, labels: Record<string, string> = {}): boolean {
  const byLabels = Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector?.matchExpressions ?? []).every(
    (e: Data) => e.operator === 'In' && e.values.includes(labels[e.key]),
  );
  return byLabels && byExpressions;
}

describe.each(overlays)('the %s overlay', (overlay) => {
  const objects = rendered[overlay];
  const namespace = find(objects, 'Namespace', objects.find((o) => o.metadata.namespace)?.metadata.namespace ?? '');

  it('renders objects that are valid against their schemas, all in one namespace', async () => {
    expect(namespace).toBeDefined();
    for (const object of objects) {
      if (object.kind !== 'Namespace')
        expect(object.metadata.namespace, object.metadata.name).toBe(namespace?.metadata.name);
      if (object.apiVersion === 'postgresql.cnpg.io/v1') continue; // checked below; no CRD schema package exists
      const Model = await modelOf(object.apiVersion, object.kind);
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      if (Model) expect(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
  });

  it('has a CloudNativePG cluster whose generated app secret every database user reads', () => {
    const clusters = objects.filter((o) => o.kind === 'Cluster');
    expect(clusters).toHaveLength(1);
    const cluster = clusters[0] as K8sObject;
    // The fields the operator requires and that we rely on (the CRD schema is not vendored).
    expect(Number.isInteger(cluster.spec.instances) && cluster.spec.instances >= 1).toBe(true);
    expect(cluster.spec.bootstrap.initdb).toEqual({ database: 'imm', owner: 'imm' });
    expect(cluster.spec.storage.size).toMatch(/^\d+(Mi|Gi|Ti)$/);
    expect(cluster.spec.imageName).toMatch(/^ghcr\.io\/cloudnative-pg\/postgresql:15\.\d+$/);
    expect(overlay === 'dev' ? cluster.spec.instances : cluster.spec.instances >= 3).toBe(overlay === 'dev' ? 1 : true);
  });

  for (const p of processes) {
    describe(p.deployName, () => {
      const deployment = find(objects, 'Deployment', p.deployName) as K8sObject;
      const pod = deployment?.spec.template;
      const container = pod?.spec.containers[0];

      it('is a Deployment running its compiled entry, with a Service on its port', () => {
        expect(deployment).toBeDefined();
        expect(pod.spec.containers).toHaveLength(1);
        expect(container.command).toEqual(['node', p.compiled]);
        expect(container.image).toMatch(/imm-control:[\w.-]+$/);
        expect(container.ports).toEqual([{ name: 'http', containerPort: p.defaultPort }]);
        const service = find(objects, 'Service', p.deployName);
        expect(service?.spec.type).toBe('ClusterIP');
        expect(service?.spec.ports).toEqual([{ name: 'http', port: p.defaultPort, targetPort: 'http' }]);
        expect(selects({ matchLabels: service?.spec.selector }, pod.metadata.labels)).toBe(true);
      });

      it('is ready on /readyz and alive on /healthz, with resource requests and limits', () => {
        expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
        expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
        expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(container.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      });

      it('runs as non-root on a read-only root filesystem, without privilege escalation or capabilities', () => {
        expect(pod.spec.securityContext).toMatchObject({
          runAsNonRoot: true,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(pod.spec.securityContext.runAsUser).toBeGreaterThan(0);
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(pod.spec.automountServiceAccountToken).toBe(false);
      });

      it('gets every variable its configuration requires from the ConfigMaps and Secrets', () => {
        const external = { ...cnpgAppSecrets(objects), ...(overlay === 'dev' ? {} : documentedSecrets()) };
        const env = environmentOf(objects, container, external);
        expect(env.PORT).toBe(String(p.defaultPort));
        expect(env.MODE).toBe(overlay === 'dev' ? 'DEV' : 'RELEASE');
        expect(() => configLoaders[p.name](env)).not.toThrow();
        if (p.needs.servers.includes('postgres'))
          expect(env.DATABASE_URL).toMatch(/^postgresql:\/\/imm:.*@imm-postgres-rw\./);
        if (p.needs.servers.includes('redis'))
          expect(find(objects, 'NetworkPolicy', 'valkey-from-services')).toBeDefined();
        for (const other of p.needs.processes) {
          const target = processes.find((q) => q.name === other);
          const url = env[`${other.toUpperCase()}_URL`];
          if (url) expect(url).toBe(`http://${target?.deployName}:${target?.defaultPort}`);
        }
        if (p.public) expect(env.TRUSTED_PROXIES).toMatch(/^[\d./,:a-f]+$/);
      });

      it('keeps a replica up through voluntary disruptions, and scales where the issue asks', () => {
        const budget = objects.find(
          (o) => o.kind === 'PodDisruptionBudget' && selects(o.spec.selector, pod.metadata.labels),
        );
        expect(budget?.spec.maxUnavailable ?? budget?.spec.minAvailable).toBeDefined();
        const autoscaler = objects.find(
          (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === p.deployName,
        );
        const scaledObject = objects.find(
          (o) => o.kind === 'ScaledObject' && o.spec.scaleTargetRef.name === p.deployName,
        );
        if (p.name === 'auth') expect(autoscaler ?? scaledObject).toBeUndefined();
        else if (overlay === 'prod-keda' && p.name === 'worker') {
          expect(autoscaler).toBeUndefined(); // KEDA owns the worker's autoscaler
          expect(scaledObject?.spec.triggers[0]).toMatchObject({
            type: 'redis',
            metadata: { listName: 'imm:operations:wait' },
          });
        } else {
          expect(autoscaler?.apiVersion).toBe('autoscaling/v2');
          expect(autoscaler?.spec.minReplicas).toBe(overlay === 'dev' ? 1 : 2);
        }
      });
    });
  }

  it('routes only /api from the Ingress, to the gateway', () => {
    const ingresses = objects.filter((o) => o.kind === 'Ingress');
    expect(ingresses).toHaveLength(1);
    const paths = ingresses[0]?.spec.rules.flatMap((r: Data) => r.http.paths);
    const gateway = processes.find((p) => p.public);
    expect(paths).toEqual([
      { path: '/api', pathType: 'Prefix', backend: { service: { name: gateway?.deployName, port: { name: 'http' } } } },
    ]);
    if (overlay !== 'dev') expect(ingresses[0]?.spec.tls?.[0]?.secretName).toBeTruthy();
  });

  it('lets only the gateway take traffic from outside the namespace, and only our processes reach the servers', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const denyAll = policies.find((o) => Object.keys(o.spec.podSelector).length === 0);
    expect(denyAll?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    for (const p of processes) {
      const labels = (find(objects, 'Deployment', p.deployName) as K8sObject).spec.template.metadata.labels;
      const peers = policies
        .filter((o) => selects(o.spec.podSelector, labels))
        .flatMap((o) => (o.spec.ingress ?? []).flatMap((rule: Data) => rule.from ?? [{}]));
      const fromOutside = peers.filter(
        (peer: Data) => peer.namespaceSelector || peer.ipBlock || Object.keys(peer).length === 0,
      );
      if (p.public) {
        expect(fromOutside).toEqual([
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
          },
        ]);
      } else {
        expect(fromOutside, p.name).toEqual([]);
        expect(peers.length === 0 || p.name !== 'worker').toBe(true);
      }
    }
    const serverPods = {
      postgres: { 'cnpg.io/cluster': 'imm-postgres' },
      valkey: { 'app.kubernetes.io/name': 'valkey' },
      nats: { 'app.kubernetes.io/name': 'nats' },
    };
    for (const [server, labels] of Object.entries(serverPods)) {
      const rules = policies.filter(
        (o) => selects(o.spec.podSelector, labels) && Object.keys(o.spec.podSelector).length > 0,
      );
      expect(rules.length, server).toBeGreaterThan(0);
      const peers = rules.flatMap((o) => o.spec.ingress.flatMap((rule: Data) => rule.from));
      const clients = peers.filter((peer: Data) => peer.podSelector && !peer.namespaceSelector);
      for (const client of clients) {
        const ours = selects(client.podSelector, { 'app.kubernetes.io/part-of': 'imm-control' });
        const itself = JSON.stringify(client.podSelector.matchLabels) === JSON.stringify(labels);
        expect(ours || itself, `${server}: ${JSON.stringify(client)}`).toBe(true);
      }
      // From other namespaces only the operators that manage them (CloudNativePG, KEDA reading the queue).
      const namespaces = peers
        .filter((peer: Data) => peer.namespaceSelector)
        .map((peer: Data) => peer.namespaceSelector.matchLabels['kubernetes.io/metadata.name']);
      for (const name of namespaces) expect(['cnpg-system', 'keda'], server).toContain(name);
      expect(
        peers.some((peer: Data) => !peer.podSelector && !peer.namespaceSelector),
        server,
      ).toBe(false);
    }
    for (const p of processes) {
      const labels = (find(objects, 'Deployment', p.deployName) as K8sObject).spec.template.metadata.labels;
      expect(labels['app.kubernetes.io/part-of'], p.name).toBe('imm-control');
    }
  });

  it('points every probe at a route every process serves', async () => {
    const paths = new Set<string>();
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const c = d.spec.template.spec.containers[0];
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) if (probe) paths.add(probe.httpGet.path);
    }
    const statuses = await statusOfSharedRoutes([...paths]);
    for (const path of paths) expect(statuses[path], path).toBe(200);
  });
});

describe('deploy/README.md', () => {
  const readme = read('deploy/README.md');

  it('installs the operators and charts with pinned versions and the values files in the repo', () => {
    expect(readme).toMatch(/cloudnative-pg\/release-1\.\d+\/releases\/cnpg-1\.\d+\.\d+\.yaml/);
    expect(readme).toMatch(
      /helm upgrade --install nats nats\/nats --version \d+\.\d+\.\d+ .*-f deploy\/k8s\/charts\/nats-values\.yaml/,
    );
    expect(readme).toMatch(
      /helm upgrade --install valkey valkey\/valkey --version \d+\.\d+\.\d+ .*-f deploy\/k8s\/charts\/valkey-values\.yaml/,
    );
    const nats = parseAllDocuments(read('deploy/k8s/charts/nats-values.yaml'))[0]?.toJS();
    expect(nats.config.cluster).toEqual({ enabled: true, replicas: 3 });
    expect(nats.config.jetstream.enabled).toBe(true);
    const valkey = parseAllDocuments(read('deploy/k8s/charts/valkey-values.yaml'))[0]?.toJS();
    expect(valkey.valkeyConfig).toMatch(/appendonly yes/);
    expect(valkey.valkeyConfig).toMatch(/maxmemory-policy noeviction/);
    expect(valkey.dataStorage.enabled).toBe(true);
  });

  it('creates every secret the prod overlay reads and the operator does not generate', () => {
    const objects = rendered.prod;
    const generated = new Set([
      ...Object.keys(cnpgAppSecrets(objects)),
      ...objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
    ]);
    const documented = documentedSecrets();
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      for (const variable of d.spec.template.spec.containers[0].env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref && !generated.has(ref.name))
          expect(Object.keys(documented[ref.name] ?? {}), ref.name).toContain(ref.key);
      }
    }
  });
});
