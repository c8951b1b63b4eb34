// deploy/: the DaemonSet, its ConfigMap and the RBAC objects are consistent
// with each other (socket root, admin port, probes, secret, service account).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const load = (f: string): any[] => parseAllDocuments(readFileSync(join(root, 'deploy', f), 'utf8')).map((d) => {
  assert.deepEqual(d.errors, [], `${f} parses`);
  return d.toJS();
});
const find = (docs: any[], kind: string): any => {
  const d = docs.find((x) => x.kind === kind);
  assert.ok(d, `a ${kind}`);
  return d;
};

test('the DaemonSet mounts the socket root from the host, probes the loopback admin API and reads the cluster secret', () => {
  const docs = load('daemonset.yaml');
  const cm = find(docs, 'ConfigMap');
  const ds = find(docs, 'DaemonSet');
  const agentConfig = parse(cm.data['agent.yaml']);
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(ds.apiVersion, 'apps/v1');
  assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);

  // Socket root: the agent's config, the container mount and the hostPath are one directory.
  const sockets = pod.volumes.find((v: any) => v.hostPath);
  const mount = c.volumeMounts.find((m: any) => m.name === sockets.name);
  assert.equal(mount.mountPath, agentConfig.socketRoot);
  assert.equal(sockets.hostPath.path, agentConfig.socketRoot);

  // Admin on loopback; probes on that host and port (hostNetwork makes the node's loopback the pod's).
  assert.equal(agentConfig.admin.host, '127.0.0.1');
  assert.equal(pod.hostNetwork, true);
  for (const [probe, path] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz'], ['startupProbe', '/healthz']] as const) {
    assert.deepEqual(c[probe].httpGet, { host: '127.0.0.1', path, port: agentConfig.admin.port }, probe);
  }
  assert.ok(pod.terminationGracePeriodSeconds > parseInt(agentConfig.timeouts.drain, 10), 'grace period longer than the drain');

  // The config file the command names is the mounted ConfigMap key.
  const configPath = c.command[c.command.indexOf('--config') + 1];
  assert.ok(c.volumeMounts.some((m: any) => m.mountPath === configPath && m.subPath === 'agent.yaml'));
  assert.ok(agentConfig.meshlets.paths.every((p: string) => c.volumeMounts.some((m: any) => m.mountPath === p)));

  // Cluster secret from a Secret, mounted read-only, never inline.
  const secretVol = pod.volumes.find((v: any) => v.secret);
  assert.equal(secretVol.secret.secretName, 'weft-cluster');
  const secretMount = c.volumeMounts.find((m: any) => m.name === secretVol.name);
  assert.equal(secretMount.readOnly, true);
  const fileEnv = c.env.find((e: any) => e.name === 'WEFT_CLUSTER_SECRET_FILE');
  assert.equal(fileEnv.value, `${secretMount.mountPath}/${secretVol.secret.items[0].path}`);
  assert.ok(!JSON.stringify(docs).match(/secret:\s*[0-9a-f]{16,}/i));
});

test('RBAC: the agent service account may get, list and watch pods (and Meshlets) in its namespace', () => {
  const rbac = load('rbac.yaml');
  const ds = find(load('daemonset.yaml'), 'DaemonSet');
  const sa = find(rbac, 'ServiceAccount');
  const role = find(rbac, 'Role');
  const binding = find(rbac, 'RoleBinding');
  assert.equal(ds.spec.template.spec.serviceAccountName, sa.metadata.name);
  assert.equal(sa.metadata.namespace, ds.metadata.namespace);
  assert.equal(role.metadata.namespace, ds.metadata.namespace);
  const pods = role.rules.find((r: any) => r.resources.includes('pods'));
  assert.deepEqual(pods.apiGroups, ['']);
  assert.deepEqual([...pods.verbs].sort(), ['get', 'list', 'watch']);
  for (const r of role.rules) assert.ok(r.verbs.every((v: string) => ['get', 'list', 'watch'].includes(v)), 'read-only');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
});
