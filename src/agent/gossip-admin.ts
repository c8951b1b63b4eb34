// Admin API routes of the gossip layer: GET /members, GET /gossip/keys and
// POST /gossip/keys/{install,use,remove} (the secret travels in the JSON body
// and is never echoed: answers carry fingerprints only). With gossip off these
// answer 404 WEFT-A009. /services adds the cluster catalog itself (routes.ts).
import type { ServerResponse } from 'node:http';
import type { Agent } from './agent.js';
import type { AgentGossip } from './gossip-agent.js';
import { WeftError } from '../errors.js';

export interface GossipRoute {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** POST routes that read a JSON body (at most MAX_BODY_BYTES). */
  body?: boolean;
  handler: (agent: Agent, params: string[], res: ServerResponse, body: unknown) => void;
}

export const MAX_BODY_BYTES = 64 * 1024;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function gossipOf(agent: Agent): AgentGossip {
  const g = agent.gossip as AgentGossip | undefined;
  if (!g) throw new WeftError('WEFT-A009', 'gossip is off (no gossip: section in the agent config)', { status: 404 });
  return g;
}

export const GOSSIP_ROUTES: readonly GossipRoute[] = [
  { method: 'GET', pattern: /^\/members$/, handler: (agent, _p, res) => json(res, 200, gossipOf(agent).membersView()) },
  { method: 'GET', pattern: /^\/gossip\/keys$/, handler: (agent, _p, res) => json(res, 200, gossipOf(agent).node.keys()) },
  {
    method: 'POST',
    pattern: /^\/gossip\/keys\/([^/]+)$/,
    body: true,
    handler: (agent, [op], res, body) => {
      const b = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
      json(res, 200, gossipOf(agent).keyOperation(op!, b));
    },
  },
];
