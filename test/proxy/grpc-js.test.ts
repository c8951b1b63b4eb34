// A real @grpc/grpc-js client and server through the proxy (issue 6): the
// Greeter service of fixtures/greeter.proto (unary + server streaming), served
// by grpc-js on the instance's Unix server socket, reached by a grpc-js client
// the two ways a user would:
//   (a) behind `grpc_proxy` / `http_proxy`: grpc-js sends CONNECT greeter:9000,
//       then speaks h2c through the opaque tunnel;
//   (b) pointed at the proxy's address with the mesh service as :authority
//       (`grpc.default_authority`): h2c with prior knowledge, routed per stream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startHarness, until, type Harness } from './_harness.js';

const PROTO = fileURLToPath(new URL('../../../test/proxy/fixtures/greeter.proto', import.meta.url));

interface HelloRequest {
  name: string;
  count?: number;
}
interface HelloReply {
  message: string;
  index: number;
}

interface GreeterClient extends grpc.Client {
  SayHello(req: HelloRequest, md: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply?: HelloReply) => void): grpc.ClientUnaryCall;
  SayHellos(req: HelloRequest, md: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<HelloReply>;
}

/** What the server saw of one call, keyed by the client's x-call-id. */
interface Seen {
  host: string;
  path: string;
  metadata: grpc.Metadata;
}

const NOT_FOUND_DETAILS = 'no greeting for missing';

function loadGreeter(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def);
  return ((pkg.weft as grpc.GrpcObject).test as grpc.GrpcObject).Greeter as grpc.ServiceClientConstructor;
}

function greeterImpl(seen: Map<string, Seen>): grpc.UntypedServiceImplementation {
  const record = (call: grpc.ServerUnaryCall<HelloRequest, HelloReply> | grpc.ServerWritableStream<HelloRequest, HelloReply>) => {
    const id = call.metadata.get('x-call-id')[0];
    if (typeof id === 'string') seen.set(id, { host: call.getHost(), path: call.getPath(), metadata: call.metadata.clone() });
  };
  return {
    SayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, cb: grpc.sendUnaryData<HelloReply>) {
      record(call);
      if (call.request.name === 'missing') {
        const md = new grpc.Metadata();
        md.set('x-reason', 'absent');
        cb({ code: grpc.status.NOT_FOUND, details: NOT_FOUND_DETAILS, metadata: md });
        return;
      }
      // Echo the caller's metadata in the initial metadata; a trailer of our own.
      const head = new grpc.Metadata();
      for (const v of call.metadata.get('x-user')) head.add('x-echo', v);
      for (const v of call.metadata.get('x-blob-bin')) head.add('x-echo-bin', v);
      call.sendMetadata(head);
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', 'g1');
      cb(null, { message: `hello ${call.request.name}`, index: 0 }, trailer);
    },
    SayHellos(call: grpc.ServerWritableStream<HelloRequest, HelloReply>) {
      record(call);
      const { name, count = 0 } = call.request;
      if (name === 'missing') {
        call.write({ message: 'hello before the error', index: 0 });
        call.emit('error', { code: grpc.status.NOT_FOUND, details: NOT_FOUND_DETAILS });
        return;
      }
      for (let i = 0; i < count; i++) call.write({ message: `hello ${name} #${i}`, index: i });
      const trailer = new grpc.Metadata();
      trailer.set('x-count', String(count));
      call.end(trailer);
    },
  };
}

interface UnaryResult {
  reply: HelloReply;
  headers: grpc.Metadata;
  trailers: grpc.Metadata;
}

function callMetadata(id: string, extra: Record<string, string | Buffer> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-call-id', id);
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

const deadline = () => ({ deadline: Date.now() + 5000 });

function unary(client: GreeterClient, req: HelloRequest, md: grpc.Metadata): Promise<UnaryResult> {
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    let reply: HelloReply | undefined;
    let failure: grpc.ServiceError | undefined;
    const call = client.SayHello(req, md, deadline(), (err, r) => {
      if (err) failure = err;
      else reply = r;
    });
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    // 'status' comes after the callback and carries the trailers.
    call.on('status', (s: grpc.StatusObject) => (failure ? reject(failure) : resolve({ reply: reply!, headers, trailers: s.metadata })));
  });
}

function serverStream(client: GreeterClient, req: HelloRequest, md: grpc.Metadata): Promise<{ replies: HelloReply[]; headers: grpc.Metadata; status: grpc.StatusObject; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const replies: HelloReply[] = [];
    let headers = new grpc.Metadata();
    let error: grpc.ServiceError | undefined;
    const call = client.SayHellos(req, md, deadline());
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    call.on('data', (r: HelloReply) => replies.push(r));
    call.on('error', (e: grpc.ServiceError) => (error = e));
    call.on('status', (status: grpc.StatusObject) => resolve({ replies, headers, status, error }));
  });
}

/** Constructs a channel with `grpc_proxy` set to the proxy, as a user's environment would (grpc-js reads it per channel). */
function withProxyEnv<T>(proxyUrl: string, make: () => T): T {
  const names = ['grpc_proxy', 'https_proxy', 'http_proxy', 'no_grpc_proxy', 'no_proxy'] as const;
  const saved = names.map((n) => process.env[n]);
  try {
    for (const n of names) delete process.env[n];
    process.env.grpc_proxy = proxyUrl;
    return make();
  } finally {
    names.forEach((n, i) => (saved[i] === undefined ? delete process.env[n] : (process.env[n] = saved[i])));
  }
}

describe('@grpc/grpc-js client and server through the proxy', () => {
  let h: Harness;
  let server: grpc.Server;
  let Greeter: grpc.ServiceClientConstructor;
  const seen = new Map<string, Seen>();
  const clients: grpc.Client[] = [];
  let nextId = 0;
  const newId = (tag: string) => `${tag}-${nextId++}`;

  // A local subchannel pool per client, so closing it closes its connection.
  const viaConnect = (target: string) =>
    withProxyEnv(h.proxyUrl, () => {
      const c = new Greeter(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as GreeterClient;
      clients.push(c);
      return c;
    });
  const viaAuthority = (authority: string) => {
    const c = new Greeter(`127.0.0.1:${h.proxyPort}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': authority,
      'grpc.enable_http_proxy': 0,
      'grpc.use_local_subchannel_pool': 1,
    }) as unknown as GreeterClient;
    clients.push(c);
    return c;
  };

  before(async () => {
    h = await startHarness({ proxy: { namespace: 'rpc', servicePorts: { grpc: 9000 } } });
    h.meshlet('rpc', 'greeter', ['grpc'], [{ name: 'g1', version: 'v1' }]);
    Greeter = loadGreeter();
    server = new grpc.Server();
    server.addService(Greeter.service, greeterImpl(seen));
    const path = h.socketPath('rpc', 'greeter', 'g1', 'grpc');
    mkdirSync(dirname(path), { recursive: true });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  });

  after(async () => {
    for (const c of clients) c.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await h.close();
  });

  /** Unary with metadata both ways, a 20-message server stream, and NOT_FOUND from a unary and mid-stream. */
  async function exercise(client: GreeterClient, tag: string): Promise<string[]> {
    const ids: string[] = [];
    const blob = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 10, 13]);
    const id1 = newId(tag);
    ids.push(id1);
    const r = await unary(client, { name: tag }, callMetadata(id1, { 'x-user': 'ann', 'x-blob-bin': blob }));
    assert.equal(r.reply.message, `hello ${tag}`);
    assert.deepEqual(r.headers.get('x-echo'), ['ann']);
    assert.deepEqual(r.headers.get('x-echo-bin'), [blob]);
    assert.deepEqual(r.trailers.get('x-served-by'), ['g1']);
    const s1 = seen.get(id1)!;
    assert.equal(s1.path, '/weft.test.Greeter/SayHello');
    assert.deepEqual(s1.metadata.get('x-user'), ['ann']);
    assert.deepEqual(s1.metadata.get('x-blob-bin'), [blob]);

    const id2 = newId(tag);
    ids.push(id2);
    const st = await serverStream(client, { name: tag, count: 20 }, callMetadata(id2));
    assert.equal(st.error, undefined);
    assert.equal(st.status.code, grpc.status.OK);
    assert.deepEqual(
      st.replies.map((x) => [x.index, x.message]),
      Array.from({ length: 20 }, (_, i) => [i, `hello ${tag} #${i}`]),
    );
    assert.deepEqual(st.status.metadata.get('x-count'), ['20']);

    const id3 = newId(tag);
    ids.push(id3);
    await assert.rejects(unary(client, { name: 'missing' }, callMetadata(id3)), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.NOT_FOUND);
      assert.equal(e.details, NOT_FOUND_DETAILS);
      assert.deepEqual(e.metadata.get('x-reason'), ['absent']);
      return true;
    });

    const id4 = newId(tag);
    ids.push(id4);
    const bad = await serverStream(client, { name: 'missing' }, callMetadata(id4));
    assert.deepEqual(bad.replies.map((x) => x.message), ['hello before the error']);
    assert.equal(bad.error?.code, grpc.status.NOT_FOUND);
    assert.equal(bad.status.code, grpc.status.NOT_FOUND);
    assert.equal(bad.status.details, NOT_FOUND_DETAILS);

    // Several calls at once share the one connection.
    const many = await Promise.all(Array.from({ length: 10 }, (_, i) => unary(client, { name: `${tag}${i}` }, callMetadata(newId(tag)))));
    assert.deepEqual(many.map((m) => m.reply.message), Array.from({ length: 10 }, (_, i) => `hello ${tag}${i}`));
    return ids;
  }

  test('(a) grpc_proxy: CONNECT greeter:9000, then h2c through the tunnel', async () => {
    const client = viaConnect('greeter:9000');
    const ids = await exercise(client, 'tunnel');
    // The tunnel is opaque: the app sees the client's own authority and no proxy-added headers.
    const s = seen.get(ids[0])!;
    assert.equal(s.host, 'greeter:9000');
    assert.deepEqual(s.metadata.get('traceparent'), []);
    client.close();
    await until(() => h.access.some((l) => l.protocol === 'connect' && l.status === 200 && l.service === 'grpc.greeter.rpc'), 3000, 'the tunnel access-log line');
  });

  test('(a) grpc_proxy to a service the mesh does not know: CONNECT 404, the call fails UNAVAILABLE', async () => {
    const client = viaConnect('nope.greeter.rpc:9000');
    await assert.rejects(unary(client, { name: 'x' }, callMetadata(newId('nope'))), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNAVAILABLE);
      return true;
    });
    await until(() => h.access.some((l) => l.protocol === 'connect' && l.status === 404), 3000, 'the refused CONNECT access-log line');
  });

  test('(b) h2c to the proxy port, :authority names the service (short name with port, and the full service ID)', async () => {
    const client = viaAuthority('greeter:9000');
    const ids = await exercise(client, 'authority');
    // Routed per stream: the proxy adds trace and request ids, and tells the client its request id.
    const s = seen.get(ids[0])!;
    assert.equal(s.host, 'greeter:9000');
    assert.match(String(s.metadata.get('traceparent')[0]), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const requestId = s.metadata.get('x-request-id')[0];
    assert.ok(typeof requestId === 'string' && requestId.length > 0);
    const r = await unary(client, { name: 'again' }, callMetadata(newId('authority')));
    assert.equal(r.headers.get('x-request-id').length, 1);
    await until(() => h.access.some((l) => l.requestId === requestId), 3000, 'the access-log line of the first call');
    const line = h.access.find((l) => l.requestId === requestId)!;
    assert.equal(line.protocol, 'h2c');
    assert.equal(line.service, 'grpc.greeter.rpc');
    assert.equal(line.path, '/weft.test.Greeter/SayHello');
    assert.equal(line.status, 200);
    assert.equal(line.endpoint, 'local/g1');

    const full = viaAuthority('grpc.greeter.rpc');
    const id = newId('full');
    const f = await unary(full, { name: 'full' }, callMetadata(id));
    assert.equal(f.reply.message, 'hello full');
    assert.equal(seen.get(id)!.host, 'grpc.greeter.rpc');
  });

  test('(b) an authority the mesh does not know: the proxy answers UNIMPLEMENTED in gRPC terms', async () => {
    const client = viaAuthority('nope.greeter.rpc');
    const id = newId('unknown');
    await assert.rejects(unary(client, { name: 'x' }, callMetadata(id)), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNIMPLEMENTED);
      assert.deepEqual(e.metadata.get('x-weft-error'), ['WEFT-P002']);
      assert.match(e.details, /nope\.greeter\.rpc/);
      return true;
    });
    assert.equal(seen.has(id), false);
  });

  // The proxy writes grpc-message with encodeURIComponent; gRPC percent-encodes only bytes outside
  // 0x20-0x7E and '%' (PROTOCOL-HTTP2.md), and grpc-js decodes with decodeURI, so a ':' arrives as '%3A'.
  test('(b) a proxy-made grpc-message reaches grpc-js verbatim', async () => {
    const client = viaAuthority('nope.greeter.rpc');
    await assert.rejects(unary(client, { name: 'x' }, callMetadata(newId('unknown'))), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNIMPLEMENTED);
      assert.doesNotMatch(e.details, /%[0-9A-F]{2}/, e.details);
      return true;
    });
  });
});
