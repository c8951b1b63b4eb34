// A plain Node relay for bench/tunnel's optional `node-relay` row: accepts on a
// Unix socket or TCP port and pipes each connection, both ways, to a Unix socket
// or TCP port — no framing, no crypto. Two of them in a row (Unix → TCP → Unix,
// the socket types of the weft path) give the floor of any data path built on
// Node's event loop and streams: what the weft agents add above it is theirs.
// Prints one JSON line {"listening": …} when ready.
import { connect, createServer, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'listen-unix': { type: 'string' }, 'listen-tcp': { type: 'string' }, 'to-unix': { type: 'string' }, 'to-tcp': { type: 'string' } } });

function handle(client: Socket): void {
  client.setNoDelay?.(true);
  const up = values['to-unix'] ? connect({ path: values['to-unix'], allowHalfOpen: true }) : connect({ port: Number(values['to-tcp']), host: '127.0.0.1', noDelay: true, allowHalfOpen: true });
  client.pipe(up);
  up.pipe(client);
  const kill = () => (client.destroy(), up.destroy());
  client.on('error', kill);
  up.on('error', kill);
}

const server = createServer({ allowHalfOpen: true, noDelay: true }, handle);
const done = () => {
  const a = server.address();
  process.stdout.write(JSON.stringify({ listening: typeof a === 'string' ? a : a?.port }) + '\n');
};
const unix = values['listen-unix'];
if (unix) {
  rmSync(unix, { force: true });
  server.listen(unix, done);
} else server.listen(Number(values['listen-tcp'] ?? 0), '127.0.0.1', done);
process.on('SIGTERM', () => process.exit(0));
