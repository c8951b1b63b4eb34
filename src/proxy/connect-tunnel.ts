// CONNECT host:port — an opaque byte tunnel to a mesh service (HTTPS end to
// end, gRPC clients behind http_proxy such as grpc-js, anything TCP). The
// target is resolved like a Host; an endpoint is picked by the service's load
// balancer (DOWN and ejected endpoints skipped, connect failures retried on
// other endpoints), the connection counts against the cluster's
// maxConnections, then the client socket and the upstream stream are spliced
// (half-close passed on, backpressure both ways) until either side closes.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Splice } from '../agent/splice.js';
import type { EndpointState } from './endpoint-state.js';
import { proxyError, rawErrorResponse, type ProxyErrorReply } from './error-response.js';
import type { SidecarProxy } from './sidecar-proxy.js';
import { nextTrace, requestId } from './trace.js';

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
const AUTHORITY_FORM = /^(?:[a-zA-Z0-9._~!$&'()*+,;=-]+|\[[0-9a-fA-F:.]+\]):\d{1,5}$/;

export function handleConnect(p: SidecarProxy, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const start = performance.now();
  const target = req.url ?? '';
  const rid = requestId(req.headers['x-request-id']);
  const trace = nextTrace(req.headers.traceparent as string | undefined);
  socket.on('error', () => undefined);
  const log = (status: number, extra: Record<string, unknown>) =>
    p.accessLog.log(
      p.accessRecord('connect', 'CONNECT', target, '-', status, Math.round((performance.now() - start) * 1000) / 1000, {
        requestId: rid,
        traceId: trace.traceId,
        spanId: trace.spanId,
        client: socket.remoteAddress,
        ...extra,
      }),
    );
  const refuse = (reply: ProxyErrorReply, service?: string) => {
    p.metrics.tunnels.inc({ result: reply.status >= 500 ? 'failed' : 'refused' });
    socket.end(rawErrorResponse(reply, REASONS[reply.status] ?? 'Error', `x-request-id: ${rid}\r\n`));
    log(reply.status, { error: reply.code, service });
  };
  if (!AUTHORITY_FORM.test(target)) return refuse(p.badRequest('bad-target', target));
  const resolved = p.resolve('connect', target);
  if ('status' in resolved) return refuse(resolved);
  const cluster = p.cluster(resolved.serviceId, { kind: 'all' });
  if (cluster.connections >= cluster.policy.breaker.maxConnections) {
    p.metrics.overflow.inc({ service: resolved.serviceId, limit: 'maxConnections' });
    return refuse(proxyError(503, 'WEFT-P004', `${cluster.key}: maxConnections (${cluster.policy.breaker.maxConnections}) reached`, { cluster: cluster.key, limit: 'maxConnections' }), resolved.serviceId);
  }
  socket.pause();
  const tried = new Set<EndpointState>();
  const retries = p.config.retries.on.connectFailure ? p.config.retries.attempts : 0;
  const attempt = (): void => {
    const now = performance.now();
    const st = cluster.pick(undefined, tried, now);
    if (!st) return refuse(proxyError(503, 'WEFT-P003', `${cluster.key}: no healthy endpoint`, { cluster: cluster.key }), resolved.serviceId);
    tried.add(st);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), p.config.timeouts.connectMs);
    cluster.tunnels++;
    st.outstanding++;
    const done = () => {
      cluster.tunnels--;
      st.outstanding--;
    };
    p.delivery.open(st.ep.target, resolved.serviceId, p.identity, ctl.signal, { port: resolved.port }).then(
      (upstream: Duplex) => {
        clearTimeout(timer);
        const t = performance.now();
        st.ewma.observe(t - now, t);
        cluster.service.report(st, { kind: 'status', status: 200 }, cluster.policy.outlier, t);
        if (socket.destroyed) {
          upstream.destroy();
          done();
          return;
        }
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        p.metrics.tunnels.inc({ result: 'ok' });
        p.metrics.tunnelsActive.inc();
        new Splice(socket, upstream, 0, (splice) => {
          done();
          p.metrics.tunnelsActive.dec();
          log(200, { service: resolved.serviceId, endpoint: st.ep.key, version: st.ep.version, bytesIn: splice.bytesUp, bytesOut: splice.bytesDown, attempts: tried.size, flags: splice.end });
        });
      },
      (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        done();
        cluster.service.report(st, { kind: 'local-failure' }, cluster.policy.outlier, performance.now());
        p.upstreamStats(resolved.serviceId, st.ep.key, st.ep.version).failures.inc();
        if (tried.size <= retries && !socket.destroyed) return attempt();
        refuse(proxyError(503, 'WEFT-P005', `${st.ep.key}: connect-failure (${err.code ?? err.message})`, { cluster: cluster.key, endpoint: st.ep.key }), resolved.serviceId);
      },
    );
  };
  attempt();
}
