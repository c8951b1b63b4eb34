// The admin HTTP server (node:http) on its own address, loopback by default.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from '../agent/agent.js';
import { WeftError } from '../errors.js';
import { handleAdminRequest, sendError } from './routes.js';

export interface AdminServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Listens on host:port (0 = any free port); rejects with WEFT-A006 if it cannot. */
export function startAdminServer(agent: Agent, host: string, port: number): Promise<AdminServer> {
  const server = createServer((req, res) => {
    handleAdminRequest(agent, req, res).catch((e) => {
      if (!res.headersSent) sendError(res, new WeftError('WEFT-A009', String(e)), 500);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new WeftError('WEFT-A006', `${host}:${port}: ${e.code ?? e.message}`, { host, port })));
    server.listen(port, host, () => {
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${h}:${addr.port}`,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
