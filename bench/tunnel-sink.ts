// The traffic sink of bench/tunnel, one process for every row: listens on TCP
// (--tcp PORT), TLS 1.3 (--tls PORT --cert F --key F) or a Unix socket (--unix
// PATH). The first byte of a connection picks the mode:
//   'B' bulk: count every byte until the client half-closes, then answer the count
//             as decimal text and close;
//   'E' echo: send back every byte as it arrives (request/response round trips).
// Prints one JSON line {"listening": …} when ready.
import { createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { tcp: { type: 'string' }, tls: { type: 'string' }, unix: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } } });

function handle(socket: Socket): void {
  socket.setNoDelay?.(true);
  let mode = 0;
  let count = 0;
  socket.on('data', (chunk: Buffer) => {
    if (mode === 0) {
      mode = chunk[0]!;
      chunk = chunk.subarray(1);
      if (mode === 0x45 /* E */) {
        socket.pipe(socket);
        if (chunk.length) socket.write(chunk);
        return;
      }
    }
    if (mode === 0x42 /* B */) count += chunk.length;
  });
  socket.on('end', () => {
    if (mode === 0x42) socket.end(String(count));
  });
  socket.on('error', () => socket.destroy());
}

const server = values.tls
  ? createTlsServer({ cert: readFileSync(values.cert!), key: readFileSync(values.key!), minVersion: 'TLSv1.3', allowHalfOpen: true }, handle)
  : createServer({ allowHalfOpen: true, noDelay: true }, handle);
const where = values.unix ?? Number(values.tls ?? values.tcp ?? 0);
if (values.unix) rmSync(values.unix, { force: true });
const done = () => {
  const a = server.address();
  process.stdout.write(JSON.stringify({ listening: typeof a === 'string' ? a : a?.port }) + '\n');
};
if (typeof where === 'string') server.listen(where, done);
else server.listen(where, '127.0.0.1', done);
process.on('SIGTERM', () => process.exit(0));
