import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { serviceNameOf } from '../../libs/telemetry/src/tracing-sdk';
import { tracingRequested } from '../../libs/telemetry/src/tracing';
import { processes } from '../../processes';
import { configLoaders, read, root, sampleSecrets, statusOfSharedRoutes } from './support';

/**
 * The Kubernetes manifests, rendered as `kubectl apply -k` would (kustomize, offline), validated
 * against the Kubernetes schemas (kubernetes-models) and the operators' (their models packages:
 * KEDA, CloudNativePG, Prometheus operator), and checked against the one description of the
 * processes and each process's configuration schema.
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

/** `kubectl kustomize` of a directory, as objects. */
function kustomize(directory: string): K8sObject[] {
  let yaml: string;
  try {
    yaml = execFileSync('kubectl', ['kustomize', directory], { encoding: 'utf8' });
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    throw new Error(missing ? 'kubectl is not installed: it renders the overlays (kubectl kustomize)' : String(error));
  }
  return parseAllDocuments(yaml).map((doc) => doc.toJS() as K8sObject);
}
const render = (overlay: string) => kustomize(`${root}/deploy/k8s/overlays/${overlay}`);

/**
 * An overlay with optional components added, as deploy/README.md tells an operator to add them
 * (to the overlay's own kustomization, so they land in its namespace).
 */
function renderWith(overlay: string, namespace: string, components: string[]): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'imm-kustomize-'));
  try {
    const kustomization = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace,
      // kustomize takes only relative paths.
      resources: [relative(dir, `${root}/deploy/k8s/overlays/${overlay}`)],
      components: components.map((c) => relative(dir, `${root}/deploy/k8s/components/${c}`)),
    };
    writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify(kustomization));
    return kustomize(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const rendered = Object.fromEntries(overlays.map((o) => [o, render(o)])) as Record<
  (typeof overlays)[number],
  K8sObject[]
>;

const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

type ModelClass = new (data: object) => { validate(): void };

/** The models package of each operator's API group; the built-in groups are in kubernetes-models. */
const operatorModels: Record<string, string> = {
  'keda.sh': '@kubernetes-models/keda', // KEDA 2.x
  'postgresql.cnpg.io': '@kubernetes-models/cloudnative-pg', // the CloudNativePG 1.24.1 CRDs
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator', // prometheus-operator 0.65.1
};

/** The model class of a kind, whose validate() checks an object against the kind's schema. */
async function modelOf(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const group = apiVersion.includes('/') ? (apiVersion.split('/')[0] as string) : '';
  const pkg = group.includes('.') && !group.endsWith('.k8s.io') ? operatorModels[group] : 'kubernetes-models';
  if (!pkg) return undefined;
  const module = await import(`${pkg}/${apiVersion}`).catch(() => undefined);
  return module?.[kind];
}

/** Validates an object against its kind's schema; a kind no schema knows is an error, not a pass. */
async function validateObject(object: K8sObject): Promise<void> {
  const Model = await modelOf(object.apiVersion, object.kind);
  if (!Model) throw new Error(`no schema validates ${object.apiVersion} ${object.kind} (${object.metadata.name})`);
  new Model(object).validate();
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
      await expect(validateObject(object), `${object.kind}/${object.metadata.name}`).resolves.toBeUndefined();
    }
    expect(objects.some((o) => o.apiVersion === 'postgresql.cnpg.io/v1')).toBe(true);
  });

  it('has a CloudNativePG cluster whose generated app secret every database user reads', () => {
    const clusters = objects.filter((o) => o.kind === 'Cluster');
    expect(clusters).toHaveLength(1);
    const cluster = clusters[0] as K8sObject;
    // What we rely on beyond the CRD schema (validated above): the database, its owner, the image.
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

      it('names its own traces, and sends them to the collector its ConfigMap names (none: tracing off)', () => {
        const external = { ...cnpgAppSecrets(objects), ...(overlay === 'dev' ? {} : documentedSecrets()) };
        expect(container.env).toContainEqual({ name: 'OTEL_SERVICE_NAME', value: p.deployName });
        expect(serviceNameOf(p.compiled)).toBe(p.deployName); // the name it would take by itself
        // The endpoint is a setting of the deployment, in a ConfigMap every process reads.
        expect(container.env.map((v: Data) => v.name)).not.toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
        const config = find(objects, 'ConfigMap', 'imm-config') as K8sObject;
        expect(container.envFrom).toContainEqual({ configMapRef: { name: 'imm-config' } });
        expect(config.data.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('');
        const env = environmentOf(objects, container, external);
        expect(env.OTEL_SERVICE_NAME).toBe(p.deployName);
        expect(tracingRequested(env)).toBe(false);
        const collector = 'http://otel-collector.monitoring:4318';
        const configured = objects.map((o) =>
          o === config ? { ...o, data: { ...o.data, OTEL_EXPORTER_OTLP_ENDPOINT: collector } } : o,
        );
        const traced = environmentOf(configured, container, external);
        expect(traced.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(collector);
        expect(tracingRequested(traced)).toBe(true);
      });

      it('asks to be scraped on its own port at /metrics', () => {
        expect(pod.metadata.annotations).toMatchObject({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(p.defaultPort),
          'prometheus.io/path': '/metrics',
        });
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

  it('keeps every JetStream stream on as many NATS servers as the NATS chart runs', () => {
    const nats = parseAllDocuments(read('deploy/k8s/charts/nats-values.yaml'))[0]?.toJS();
    const servers = nats.config.cluster.enabled ? nats.config.cluster.replicas : 1;
    expect(servers).toBe(3);
    const external = { ...cnpgAppSecrets(objects), ...(overlay === 'dev' ? {} : documentedSecrets()) };
    for (const p of processes.filter((q) => q.needs.servers.includes('nats'))) {
      const container = (find(objects, 'Deployment', p.deployName) as K8sObject).spec.template.spec.containers[0];
      const config = configLoaders[p.name](environmentOf(objects, container, external)) as {
        NATS_STREAM_REPLICAS: number;
      };
      expect(config.NATS_STREAM_REPLICAS, p.name).toBe(servers);
    }
  });

  it("keeps the worker's OPC UA PKI on a writable volume shared by its replicas and kept across restarts", () => {
    const worker = processes.find((p) => p.name === 'worker');
    const deployment = find(objects, 'Deployment', worker?.deployName ?? '') as K8sObject;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const external = { ...cnpgAppSecrets(objects), ...(overlay === 'dev' ? {} : documentedSecrets()) };
    const config = configLoaders.worker(environmentOf(objects, container, external)) as { OPCUA_PKI_DIR: string };
    // The root filesystem is read-only: the folder must be a mounted volume, and a writable one.
    expect(config.OPCUA_PKI_DIR).toMatch(/^\//);
    const mount = container.volumeMounts.find((m: Data) => m.mountPath === config.OPCUA_PKI_DIR);
    expect(mount, config.OPCUA_PKI_DIR).toBeDefined();
    expect(mount.readOnly ?? false).toBe(false);
    expect(mount.subPath).toBeUndefined();
    const volume = pod.volumes.find((v: Data) => v.name === mount.name);
    const claim = find(objects, 'PersistentVolumeClaim', volume.persistentVolumeClaim?.claimName);
    expect(claim, 'a PersistentVolumeClaim, not a volume that dies with the pod').toBeDefined();
    // Several replicas mount it at once (on any node in prod; dev runs one worker on one node).
    const autoscaler = objects.find(
      (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === deployment.metadata.name,
    );
    const scaledObject = objects.find(
      (o) => o.kind === 'ScaledObject' && o.spec.scaleTargetRef.name === deployment.metadata.name,
    );
    const most = Math.max(
      deployment.spec.replicas,
      autoscaler?.spec.maxReplicas ?? 0,
      scaledObject?.spec.maxReplicaCount ?? 0,
    );
    expect(most).toBeGreaterThan(1);
    expect(claim?.spec.accessModes).toEqual(overlay === 'dev' ? ['ReadWriteOnce'] : ['ReadWriteMany']);
    // The volume belongs to the worker's group, so uid 1000 writes it.
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
    // No other process mounts it.
    for (const d of objects.filter((o) => o.kind === 'Deployment' && o !== deployment)) {
      const claims = (d.spec.template.spec.volumes ?? []).map((v: Data) => v.persistentVolumeClaim?.claimName);
      expect(claims, d.metadata.name).not.toContain(claim?.metadata.name);
    }
  });

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
    // Scrapes: only the pods the monitoring selector names, in the namespace it names, only on the
    // processes' own port (where /metrics is), and on nothing but the processes.
    const scrapes = find(objects, 'NetworkPolicy', 'metrics-from-prometheus') as K8sObject;
    expect(scrapes.spec.ingress).toHaveLength(1);
    const [scrapeRule] = scrapes.spec.ingress;
    expect(scrapeRule.ports).toEqual([{ port: 'http' }]);
    expect(scrapeRule.from).toHaveLength(1);
    const prometheus = scrapeRule.from[0];
    expect(prometheus).toEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': expect.any(String) } },
      podSelector: { matchLabels: expect.any(Object) },
    });
    expect(Object.keys(prometheus.podSelector.matchLabels).length).toBeGreaterThan(0);
    for (const server of ['valkey', 'nats'])
      expect(selects(scrapes.spec.podSelector, { 'app.kubernetes.io/name': server }), server).toBe(false);
    expect(selects(scrapes.spec.podSelector, { 'cnpg.io/cluster': 'imm-postgres' })).toBe(false);
    for (const p of processes) {
      const container = (find(objects, 'Deployment', p.deployName) as K8sObject).spec.template.spec.containers[0];
      expect(
        container.ports.map((port: Data) => port.name),
        p.name,
      ).toEqual(['http']);
    }
    for (const p of processes) {
      const labels = (find(objects, 'Deployment', p.deployName) as K8sObject).spec.template.metadata.labels;
      const peers = policies
        .filter((o) => selects(o.spec.podSelector, labels))
        .flatMap((o) => (o.spec.ingress ?? []).flatMap((rule: Data) => rule.from ?? [{}]));
      const fromOutside = peers.filter(
        (peer: Data) => peer.namespaceSelector || peer.ipBlock || Object.keys(peer).length === 0,
      );
      const ingressController = {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
      };
      // Prometheus (scraping /metrics) reaches every process; the Ingress controller only the gateway.
      expect(fromOutside, p.name).toEqual(p.public ? [ingressController, prometheus] : [prometheus]);
      if (p.name === 'worker') expect(peers, 'the worker serves only health and metrics').toEqual([prometheus]);
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

  it('points every probe and scrape at a route every process serves', async () => {
    const paths = new Set<string>();
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      const c = d.spec.template.spec.containers[0];
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) if (probe) paths.add(probe.httpGet.path);
      paths.add(d.spec.template.metadata.annotations['prometheus.io/path']);
    }
    const statuses = await statusOfSharedRoutes([...paths]);
    for (const path of paths) expect(statuses[path], path).toBe(200);
  });
});

describe('schema validation', () => {
  const cluster = find(rendered.prod, 'Cluster', 'imm-postgres') as K8sObject;

  it('fails a CloudNativePG Cluster with a broken field', async () => {
    await expect(validateObject(cluster)).resolves.toBeUndefined();
    const broken = [
      { ...cluster.spec, instances: 'three' },
      { ...cluster.spec, primaryUpdateStrategy: 'whenever' },
      { ...cluster.spec, storage: { size: 20 } },
    ];
    for (const spec of broken)
      await expect(validateObject({ ...cluster, spec }), JSON.stringify(spec)).rejects.toThrow(/data\/spec/);
  });

  it('fails an object of a kind no schema knows, instead of passing it', async () => {
    const unknown = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    await expect(validateObject(unknown)).rejects.toThrow('no schema validates example.com/v1 Widget');
    const unknownCnpgKind = { ...cluster, kind: 'Clusterz' };
    await expect(validateObject(unknownCnpgKind)).rejects.toThrow('no schema validates postgresql.cnpg.io/v1 Clusterz');
  });
});

describe('the pod-monitor component (for the Prometheus operator)', () => {
  const objects = renderWith('prod', 'imm', ['pod-monitor']);
  const monitor = find(objects, 'PodMonitor', 'imm-control') as K8sObject;

  it('adds a valid PodMonitor, and nothing else, to the overlay', async () => {
    expect(objects.length).toBe(rendered.prod.length + 1);
    for (const object of objects) await expect(validateObject(object), object.kind).resolves.toBeUndefined();
    expect(monitor.metadata.namespace).toBe('imm');
    const broken = { ...monitor, spec: { ...monitor.spec, podMetricsEndpoints: 'http' } };
    await expect(validateObject(broken)).rejects.toThrow(/podMetricsEndpoints/);
  });

  it("scrapes /metrics on every process's port, as the NetworkPolicy lets it", () => {
    expect(monitor.spec.podMetricsEndpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
    const scrapes = find(objects, 'NetworkPolicy', 'metrics-from-prometheus') as K8sObject;
    for (const p of processes) {
      const labels = (find(objects, 'Deployment', p.deployName) as K8sObject).spec.template.metadata.labels;
      expect(selects(monitor.spec.selector, labels), p.name).toBe(true);
      expect(selects(scrapes.spec.podSelector, labels), p.name).toBe(true);
    }
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

  it('names the operator versions whose CRD schemas validate the manifests', () => {
    const generatedFrom = (pkg: string) => {
      const manifest = JSON.parse(read(`node_modules/${pkg}/package.json`)) as { 'crd-generate': { input: string[] } };
      return /\/v?(\d+\.\d+\.\d+)\/[^/]+\.yaml$/.exec(manifest['crd-generate'].input[0] ?? '')?.[1];
    };
    const cnpg = generatedFrom('@kubernetes-models/cloudnative-pg');
    expect(cnpg).toMatch(/^1\.\d+\.\d+$/);
    expect(readme).toContain(`CloudNativePG ${cnpg} CRD schema`);
    expect(readme).toContain(`the CRDs of CloudNativePG ${cnpg}`);
    expect(readme).toContain(`its CRDs of ${generatedFrom('@kubernetes-models/prometheus-operator')}`);
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
