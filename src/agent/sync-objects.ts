// What the agent's catalog looks like as sync objects: one uid and one plain
// JSON object per meshlet, service and endpoint, plus the canary, health and
// member objects. uids are scoped by the agent that owns the object
// (`endpoint/<agent>/<serviceId>/<instance>`), because the same meshlet or
// service runs on many hosts and one consumer (a NATS subject, one snapshot)
// sees them all; an agent reporting another agent's endpoint through gossip
// uses the owner's name, so both speak of the same object.
import type { MeshletSpec } from '../config/meshlet.js';
import type { CanaryStatus } from './canary.js';
import type { Route } from './routing.js';

export type CatalogKind = 'meshlet' | 'service' | 'endpoint';

export interface SyncObject {
  readonly kind: CatalogKind;
  readonly uid: string;
  readonly object: Record<string, unknown>;
}

/** The agent's catalog as the sync wiring reads it (Agent.syncView()). */
export interface AgentSyncView {
  readonly meshlets: ReadonlyArray<{ readonly spec: MeshletSpec; readonly canary?: CanaryStatus | undefined }>;
  readonly routes: readonly Route[];
}

export const meshletUid = (agent: string, namespace: string, name: string): string => `meshlet/${agent}/${namespace}/${name}`;
export const serviceUid = (agent: string, serviceId: string): string => `service/${agent}/${serviceId}`;
export const endpointUid = (agent: string, serviceId: string, instance: string): string => `endpoint/${agent}/${serviceId}/${instance}`;
export const memberUid = (memberId: string): string => `member/${memberId}`;

/** Whether a uid names an object this agent owns (for seeding from a snapshot). */
export function ownedBy(agent: string, uid: string): boolean {
  const slash = uid.indexOf('/');
  return slash > 0 && uid.startsWith(`${agent}/`, slash + 1);
}

export function meshletObject(agent: string, spec: MeshletSpec): Record<string, unknown> {
  return {
    agent,
    namespace: spec.namespace,
    name: spec.name,
    provides: spec.provides.map((svc) => `${svc}.${spec.name}.${spec.namespace}`),
    uses: spec.uses,
    idleTimeout: spec.idleTimeout,
    instances: spec.instances.map((i) => ({ name: i.name, version: i.version, weight: i.weight })),
    ...(spec.canary ? { canary: { stable: spec.canary.stable, canary: spec.canary.canary, steps: spec.canary.steps, intervalMs: spec.canary.intervalMs } } : {}),
  };
}

export function serviceObject(agent: string, route: Route & { provider: MeshletSpec }): Record<string, unknown> {
  const p = route.provider;
  return { agent, id: route.serviceId, service: route.service, meshlet: p.name, namespace: p.namespace };
}

/** One endpoint per (service, instance): `weight` is the routing weight now (canary share included). */
export function endpointObjects(agent: string, route: Route & { provider: MeshletSpec }): SyncObject[] {
  // Endpoints on tunnel peers are theirs to report (they reach us through gossip).
  return route.endpoints.flatMap((e, i) => (e.kind !== 'local' ? [] : [{
    kind: 'endpoint',
    uid: endpointUid(agent, route.serviceId, e.instance),
    object: {
      agent,
      serviceId: route.serviceId,
      namespace: e.namespace,
      meshlet: e.meshlet,
      instance: e.instance,
      version: e.version,
      weight: route.weights[i] ?? 0,
      instanceWeight: route.provider.instances.find((x) => x.name === e.instance)?.weight ?? 0,
      socket: e.socketPath,
    },
  }]));
}

/** Every meshlet, service and endpoint of the view, parents before children. */
export function catalogObjects(agent: string, view: AgentSyncView): SyncObject[] {
  const out: SyncObject[] = view.meshlets.map(({ spec }) => ({ kind: 'meshlet', uid: meshletUid(agent, spec.namespace, spec.name), object: meshletObject(agent, spec) }));
  // Only services this agent provides itself: remote-only routes belong to their agents.
  const own = view.routes.filter((r): r is Route & { provider: MeshletSpec } => r.provider !== undefined);
  for (const r of own) out.push({ kind: 'service', uid: serviceUid(agent, r.serviceId), object: serviceObject(agent, r) });
  for (const r of own) out.push(...endpointObjects(agent, r));
  return out;
}

/** What caused a canary event: the rollout starting or restarting, an automatic step, or an admin action. */
export type CanaryCause = 'startup' | 'reload' | 'step' | 'pause' | 'resume' | 'promote' | 'rollback';

/** The rollout status as a canary event object (`phase: 'none'` once the meshlet's canary is taken out). */
export function canaryObject(agent: string, spec: MeshletSpec, status: CanaryStatus | undefined, cause: CanaryCause): Record<string, unknown> {
  const base = { agent, meshlet: spec.key, namespace: spec.namespace, name: spec.name, cause };
  if (!status) return { ...base, phase: 'none' };
  return {
    ...base,
    phase: status.phase,
    stable: status.stable,
    canary: status.canary,
    canaryPercent: status.canaryPercent,
    step: status.step,
    steps: status.steps,
    intervalMs: status.intervalMs,
    nextStepAt: status.nextStepAt === null ? null : new Date(status.nextStepAt).toISOString(),
  };
}
