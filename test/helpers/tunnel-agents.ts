// Test helper: real agent processes with tunnels on 127.0.0.1 — each with its
// own temp dir, identity file, cluster secret file and an ephemeral tunnel port
// (read from the ready line), plus meshlet files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, meshlet, startAgent, type AgentProcess } from './agent-process.js';

export const CLUSTER_SECRET = 'tunnel test cluster secret';

export interface TunnelAgent extends AgentProcess {
  readonly name: string;
  /** host:port of its tunnel listener. */
  readonly tunnel: string;
  readonly publicKey: string;
}

export interface PeerEntry {
  name: string;
  address?: string;
  publicKey?: string;
  services?: (string | { id: string; version?: string; weight?: number })[];
}

export interface TunnelAgentOptions {
  name: string;
  secret?: string;
  peers?: PeerEntry[];
  routes?: Record<string, string>;
  /** Extra fields of the tunnel section (timeouts, relay, backoff…). */
  tunnel?: Record<string, unknown>;
  /** Extra top-level agent config. */
  config?: Record<string, unknown>;
  meshlets?: Record<string, string | object | object[]>;
  expectFailure?: boolean;
}

const running = new Set<AgentProcess>();

/** Kills every agent this helper started that is still running (use in `after`, so a failed test cannot hang the run). */
export async function stopAllTunnelAgents(): Promise<void> {
  await Promise.all([...running].map((a) => a.stop('SIGKILL')));
}

export async function startTunnelAgent(o: TunnelAgentOptions): Promise<TunnelAgent> {
  const dir = makeTempDir();
  const secretFile = join(dir, 'cluster.secret');
  writeFileSync(secretFile, (o.secret ?? CLUSTER_SECRET) + '\n', { mode: 0o600 });
  const a = await startAgent(
    {
      config: {
        ...o.config,
        tunnel: {
          name: o.name,
          listen: '127.0.0.1:0',
          identityFile: join(dir, 'identity.json'),
          secretFile,
          peers: o.peers ?? [],
          ...(o.routes ? { routes: o.routes } : {}),
          ...o.tunnel,
        },
      },
      ...(o.meshlets ? { meshlets: o.meshlets } : {}),
      ...(o.expectFailure ? { expectFailure: true } : {}),
    },
    dir,
  );
  running.add(a);
  void a.exited.then(() => running.delete(a));
  const ready = a.logs.find((l) => l.msg === 'agent ready');
  return Object.assign(a, { name: o.name, tunnel: String(ready?.tunnel ?? ''), publicKey: String(ready?.publicKey ?? '') });
}

/** A provider agent B: meshlet `svc` in namespace t providing `echo` (served by the agent's demo echo) and `sink`. */
export function providerMeshlets(extra: Record<string, unknown> = {}): Record<string, object[]> {
  return { 'svc.yaml': [meshlet('t', 'svc', { provides: ['echo', 'sink', 'stall'], ...extra })] };
}

/** A client agent A: meshlet `app` in namespace t using every service of `svc`. */
export function clientMeshlets(): Record<string, object[]> {
  return { 'app.yaml': [meshlet('t', 'app', { uses: ['*.svc.t'] })] };
}

