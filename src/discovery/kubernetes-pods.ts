// Reading the parts of the Kubernetes API's JSON that discovery needs: a PodList
// page, a WatchEvent, a Status. The input is untrusted: every field is checked
// for type before use, and a value of the wrong shape is "absent", never a crash.

import { isIP } from 'node:net';
import type { Address } from '../gossip/types.js';
import { formatAddress, parseAddress } from './address.js';

/** The gossip port: a number, or the name of a container port in the pod spec. */
export type PodPort = { port: number } | { portName: string };

export interface PodListPage {
  /** (uid or namespace/name) → address, for the pods that qualify. */
  peers: Map<string, Address>;
  resourceVersion: string | undefined;
  continueToken: string | undefined;
}

export interface StatusInfo {
  code?: number;
  reason?: string;
  message?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A pod's identity across events: its uid, else namespace/name. */
export function podKey(pod: unknown): string | undefined {
  if (!isObject(pod) || !isObject(pod.metadata)) return undefined;
  const uid = str(pod.metadata.uid);
  if (uid) return uid;
  const name = str(pod.metadata.name);
  return name ? `${str(pod.metadata.namespace) ?? ''}/${name}` : undefined;
}

function containerPort(spec: unknown, portName: string): number | undefined {
  if (!isObject(spec) || !Array.isArray(spec.containers)) return undefined;
  for (const c of spec.containers) {
    if (!isObject(c) || !Array.isArray(c.ports)) continue;
    for (const p of c.ports) {
      if (isObject(p) && p.name === portName && typeof p.containerPort === 'number') return p.containerPort;
    }
  }
  return undefined;
}

/**
 * The gossip address of a pod that is a usable peer, else undefined. A pod qualifies when
 * it is not being deleted (no metadata.deletionTimestamp), status.phase is Running, it has
 * a status.podIP, its Ready condition is True, and the port resolves.
 */
export function podAddress(pod: unknown, port: PodPort): Address | undefined {
  if (!isObject(pod) || !isObject(pod.metadata) || !isObject(pod.status)) return undefined;
  const deletion = pod.metadata.deletionTimestamp;
  if (deletion !== undefined && deletion !== null) return undefined;
  const status = pod.status;
  if (status.phase !== 'Running') return undefined;
  const ip = str(status.podIP);
  // podIP must be an IP: a host name here would be a forged or corrupt object.
  if (!ip || !isIP(ip)) return undefined;
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  if (!conditions.some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True')) return undefined;
  const p = 'port' in port ? port.port : containerPort(pod.spec, port.portName);
  if (p === undefined || !Number.isInteger(p) || p < 1 || p > 65535) return undefined;
  const r = parseAddress(formatAddress(ip, p));
  return r.ok ? r.address : undefined;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses one page of GET …/pods (kind PodList). */
export function parsePodList(body: Buffer, port: PodPort): ParseResult<PodListPage> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}` };
  }
  if (!isObject(doc)) return { ok: false, reason: 'not a JSON object' };
  if (doc.kind !== undefined && doc.kind !== 'PodList') return { ok: false, reason: `kind is ${JSON.stringify(doc.kind)}, not PodList` };
  if (!Array.isArray(doc.items)) return { ok: false, reason: 'items is not an array' };
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const peers = new Map<string, Address>();
  for (const item of doc.items) {
    const key = podKey(item);
    const address = key === undefined ? undefined : podAddress(item, port);
    if (key !== undefined && address !== undefined) peers.set(key, address);
  }
  const cont = str(meta.continue);
  return { ok: true, value: { peers, resourceVersion: str(meta.resourceVersion), continueToken: cont ? cont : undefined } };
}

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; key: string; address: Address | undefined; resourceVersion: string | undefined }
  | { type: 'BOOKMARK'; resourceVersion: string | undefined }
  | { type: 'ERROR'; status: StatusInfo };

/** Parses one line of a watch stream (a meta/v1 WatchEvent: {type, object}). */
export function parseWatchEvent(line: Buffer, port: PodPort): ParseResult<WatchEvent> {
  let doc: unknown;
  try {
    doc = JSON.parse(line.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `watch event is not JSON: ${(e as Error).message}` };
  }
  if (!isObject(doc) || !isObject(doc.object)) return { ok: false, reason: 'watch event without an object' };
  const object = doc.object;
  const rv = isObject(object.metadata) ? str(object.metadata.resourceVersion) : undefined;
  switch (doc.type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED': {
      const key = podKey(object);
      if (key === undefined) return { ok: false, reason: `${doc.type} event for an object without uid or name` };
      return { ok: true, value: { type: doc.type, key, address: doc.type === 'DELETED' ? undefined : podAddress(object, port), resourceVersion: rv } };
    }
    case 'BOOKMARK':
      return { ok: true, value: { type: 'BOOKMARK', resourceVersion: rv } };
    case 'ERROR':
      return { ok: true, value: { type: 'ERROR', status: parseStatusObject(object) } };
    default:
      return { ok: false, reason: `unknown watch event type ${JSON.stringify(doc.type)?.slice(0, 40)}` };
  }
}

function parseStatusObject(doc: Json): StatusInfo {
  const message = str(doc.message);
  return {
    code: typeof doc.code === 'number' ? doc.code : undefined,
    reason: str(doc.reason)?.slice(0, 100),
    message: message && message.length > 300 ? `${message.slice(0, 300)}…` : message,
  };
}

/** Best-effort reading of a meta/v1 Status body (error responses); empty when it is not one. */
export function parseStatus(body: Buffer): StatusInfo {
  try {
    const doc: unknown = JSON.parse(body.toString('utf8'));
    return isObject(doc) ? parseStatusObject(doc) : {};
  } catch {
    return {};
  }
}
