// A byte echo server: the sample meshlet's `echo` service (served by the agent
// itself with the embedded default config) and `weft serve-echo`. Half-close
// aware: when the client ends its side, the echo finishes and ends ours.
import { createServer, type Server } from 'node:net';

export function createEchoServer(): Server {
  return createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
}
