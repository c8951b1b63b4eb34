#!/usr/bin/env -S node --no-incremental-marking
// The `weft` binary.
//   weft agent [--config FILE] [--mode sidecar|per-host] [--service-ports rest:8080,grpc:9000] [--proxy-port N]
//                                         run the node agent (embedded default config without --config;
//                                         any proxy flag turns the sidecar HTTP proxy on, docs/proxy.md)
//   weft connect <service>.<meshlet>.<ns> [--as <meshlet>[.<ns>][/<instance>]] [--socket PATH]
//                [--config FILE] [--socket-root DIR] [--timeout DURATION]
//                                         pipe stdin/stdout through the mesh, like netcat; the client
//                                         socket is --socket, else $WEFT_MESHLET_DIR/client/meshless,
//                                         else that of --as (or of the first meshlet that uses the service)
//   weft serve-echo --socket PATH         serve a byte echo on a Unix socket (a test service)
//   weft check [--config FILE]            validate the config and meshlet files, print a summary
//   weft explain <CODE>                   describe an error code
//   weft id [--config FILE] [--identity PATH] [--hex]
//                                         print this agent's tunnel public key (creating the identity
//                                         file, mode 0600, if there is none yet)
//   weft sync --out DIR [...]             write catalog events to an event log + snapshot (docs/sync.md)
//   weft sim [...]                        run the deterministic gossip simulator (docs/simulator.md)
import { parseArgs } from 'node:util';
import type { Socket } from 'node:net';
import { Agent } from './agent/agent.js';
import { AgentGossip } from './agent/gossip-agent.js';
import { createEchoServer } from './agent/echo-service.js';
import { Logger } from './agent/log.js';
import { dialMesh } from './agent/mesh-dial.js';
import { clientSocketPath, instanceDir } from './agent/socket-layout.js';
import { listenUnix } from './agent/unix-listen.js';
import { UsesMatcher } from './agent/uses-matcher.js';
import { startAdminServer } from './admin/server.js';
import { describeTimeouts, loadAgentConfig, type AgentConfig } from './config/agent-config.js';
import { defaultAgentConfig } from './config/default-config.js';
import { durationMs, parseDuration } from './config/duration.js';
import { loadMeshlets } from './config/load-meshlets.js';
import type { MeshletSpec } from './config/meshlet.js';
import { WeftError } from './errors.js';
import { formatPublicKey, loadOrCreateIdentity } from './tunnel/identity.js';
import { WEFT_VERSION } from './version.js';
import { runExplainCommand } from './errors-explain.js';
import { LocalSocketUpstream } from './agent/upstream.js';
import { applyProxyFlags } from './proxy/config.js';
import { ServicePortsUpstream } from './proxy/delivery.js';

const USAGE = `usage:
  weft agent [--config FILE] [--mode sidecar|per-host] [--service-ports rest:8080,grpc:9000] [--proxy-port N]
  weft connect <service>.<meshlet>.<ns> [--as <meshlet>[.<ns>][/<instance>]] [--socket PATH]
               [--config FILE] [--socket-root DIR] [--timeout DURATION]
  weft serve-echo --socket PATH
  weft check [--config FILE]
  weft explain <CODE>
  weft id [--config FILE] [--identity PATH] [--hex]
  weft sync --out DIR [--nats URL [--jetstream]]
  weft sim [--members N] [--seed S] [--loss P] [--duration D] [--scenario converge|partition|pause|kill] [--profile lan|fast]
`;

function die(err: unknown, code = 1): never {
  if (err instanceof WeftError) process.stderr.write(`weft: ${err.message}\n  cause: ${err.cause_}\n  remediation: ${err.remediation}\n`);
  else process.stderr.write(`weft: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(code);
}

function readConfig(file: string | undefined): AgentConfig {
  return file ? loadAgentConfig(file) : defaultAgentConfig();
}

function banner(config: AgentConfig, adminUrl: string, agent: Agent, gossip: AgentGossip | undefined): string {
  const lines = [
    `weft agent ${WEFT_VERSION} (node ${process.version}) pid ${process.pid}`,
    `  config       ${config.source}`,
    `  socket root  ${config.socketRoot}`,
    `  admin        ${adminUrl}  (/healthz /readyz /metrics /meshlets /services /peers /config)`,
    `  limits       ${config.limits.maxConnections} connections, ${config.limits.maxPendingHandshakes} pending handshakes`,
    `  timeouts     ${describeTimeouts(config)}`,
    ...(gossip
      ? [`  gossip       ${gossip.node.address} id ${gossip.node.id} (${config.gossip!.profile} profile, key ${gossip.node.keys().primary}, ${gossip.node.joined ? `${gossip.node.membership.size} members` : 'joining'})  (/members)`]
      : [`  gossip       off (single host)`]),
    `  meshlets`,
  ];
  const { meshlets } = agent.summary();
  if (meshlets.length === 0) lines.push('    (none)');
  for (const m of meshlets) {
    lines.push(`    ${m.key}  provides ${m.services.join(', ') || '-'}`);
    for (const i of m.instances) lines.push(`      instance ${i.name} (${i.version})  client socket ${i.clientSocket}`);
  }
  const t = agent.tunnels;
  if (t && config.tunnel) {
    lines.push(`  tunnel       ${t.address}  name ${config.tunnel.name}  key ${t.publicKey}`);
    for (const p of config.tunnel.peers) {
      const how = [p.address, config.tunnel.routes[p.name] ? `via ${config.tunnel.routes[p.name]}` : ''].filter(Boolean).join(', ');
      lines.push(`    peer ${p.name} (${how})${p.services.length ? `  serves ${p.services.map((s) => s.id).join(', ')}` : ''}`);
    }
  }
  if (agent.proxy) {
    const ports = [...config.proxy.servicePorts].map(([s, p]) => `${s}:${p}`).join(',');
    lines.push(`  proxy        ${agent.proxy.url}  (${config.proxy.mode}${ports ? `, service ports ${ports}` : ''}; try: http_proxy=${agent.proxy.url} curl http://<service>.<meshlet>.<ns>/)`);
  }
  if (agent.sync) lines.push(`  sync         ${agent.sync.describe()}  (catalog events, docs/sync.md)`);
  if (config.demoEcho.length) lines.push(`  demo echo    ${config.demoEcho.join(', ')}  (try: echo hello | weft connect ${config.demoEcho[0]})`);
  return lines.join('\n') + '\n';
}

async function runAgent(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, mode: { type: 'string' }, 'service-ports': { type: 'string' }, 'proxy-port': { type: 'string' } },
  });
  const log = new Logger();
  let config: AgentConfig;
  try {
    config = readConfig(values.config);
    config = { ...config, proxy: applyProxyFlags(config.proxy, { mode: values.mode, servicePorts: values['service-ports'], proxyPort: values['proxy-port'] }) };
  } catch (e) {
    log.error('agent config rejected', { error: e as Error });
    die(e);
  }
  // Sidecar mode: services named in --service-ports are the local app's TCP ports, for meshlet clients too.
  const sidecarPorts = config.proxy.enabled && config.proxy.mode === 'sidecar' && config.proxy.servicePorts.size > 0;
  let agent: Agent;
  try {
    agent = new Agent({ config, log, ...(sidecarPorts ? { upstream: new ServicePortsUpstream(config.proxy.servicePorts, new LocalSocketUpstream()) } : {}) });
  } catch (e) {
    log.error('agent failed to start', { error: e as Error });
    die(e);
  }
  try {
    await agent.start();
  } catch (e) {
    log.error('agent failed to start', { error: e as Error });
    die(e);
  }
  let gossip: AgentGossip | undefined;
  if (config.gossip) {
    try {
      gossip = await AgentGossip.start(agent, config.gossip, log);
      // Tunnels learn peers and remote endpoints from the catalog, and advertise their address and key.
      agent.tunnels?.useGossip(gossip);
    } catch (e) {
      log.error('agent failed to start', { error: e as Error });
      die(e);
    }
  }
  let admin;
  try {
    admin = await startAdminServer(agent, config.admin.host, config.admin.port);
  } catch (e) {
    log.error('agent failed to start', { error: e as Error });
    die(e);
  }
  process.stderr.write(banner(config, admin.url, agent, gossip));
  // Gossip's membership and other agents' catalog entries as sync events (the live state first).
  if (gossip) agent.sync?.attachGossip(gossip.node);
  process.on('SIGHUP', () => void agent.reload('SIGHUP'));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second signal; exiting without finishing the drain', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('shutting down', { signal });
    void agent.drain().then(async () => {
      await gossip?.stop().catch((e) => log.warn('gossip leave failed', { error: e as Error }));
      await admin.close();
      log.info('agent stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Ready only once the signal handlers are in place: a SIGTERM right after this line drains, not kills.
  log.info('agent ready', {
    socketRoot: config.socketRoot,
    admin: admin.url,
    ...(agent.proxy ? { proxy: agent.proxy.url } : {}),
    meshlets: agent.summary().meshlets.map((m) => m.key),
    pid: process.pid,
    ...(gossip ? { gossip: gossip.node.address, gossipId: gossip.node.id } : {}),
    ...(agent.tunnels ? { tunnel: agent.tunnels.address, publicKey: agent.tunnels.publicKey } : {}),
  });
}

/** Finds the client socket to use for `weft connect`. */
function resolveClientSocket(target: string, values: { as?: string; socket?: string; config?: string; 'socket-root'?: string }): string {
  if (values.socket) return values.socket;
  // Inside a meshlet (its instance directory mounted or named by WEFT_MESHLET_DIR, as for the SDK).
  const meshletDir = process.env.WEFT_MESHLET_DIR;
  if (!values.as && !values.config && !values['socket-root'] && meshletDir) return clientSocketPath(meshletDir);
  const config = readConfig(values.config);
  const root = values['socket-root'] ?? config.socketRoot;
  let meshlets: MeshletSpec[] = [];
  try {
    meshlets = loadMeshlets(config.meshlets.paths, config.meshlets.inline, { idleTimeoutNs: config.timeouts.idleNs }).meshlets;
  } catch {
    // Without readable meshlet files --as must name the namespace explicitly.
  }
  let chosen: { namespace: string; name: string; instance?: string };
  if (values.as) {
    const [who, instance] = values.as.split('/') as [string, string | undefined];
    const [name, namespace] = who.split('.') as [string, string | undefined];
    const candidates = meshlets.filter((m) => m.name === name && (namespace === undefined || m.namespace === namespace));
    const ns = namespace ?? (candidates.length === 1 ? candidates[0]!.namespace : 'default');
    chosen = { namespace: ns, name, ...(instance ? { instance } : {}) };
  } else {
    const users = meshlets.filter((m) => new UsesMatcher(m.uses).allows(target));
    if (users.length === 0) throw new Error(`no meshlet in ${config.source} declares that it uses ${target}; pass --as <meshlet>.<ns> or --socket PATH`);
    chosen = { namespace: users[0]!.namespace, name: users[0]!.name };
  }
  const spec = meshlets.find((m) => m.name === chosen.name && m.namespace === chosen.namespace);
  const instance = chosen.instance ?? spec?.instances[0]?.name ?? 'main';
  return clientSocketPath(instanceDir(root, chosen.namespace, chosen.name, instance));
}

async function runConnect(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      as: { type: 'string' },
      socket: { type: 'string' },
      config: { type: 'string', short: 'c' },
      'socket-root': { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const target = positionals[0];
  if (!target || positionals.length > 1) die(new Error(`connect needs one service ID\n${USAGE}`), 2);
  let socket: Socket;
  try {
    const path = resolveClientSocket(target, values);
    socket = await dialMesh(path, target, { timeoutMs: values.timeout ? durationMs(parseDuration(values.timeout)) : 10_000 });
  } catch (e) {
    die(e);
  }
  // stdin → mesh, mesh → stdout; our stdin EOF half-closes the stream, its EOF ends us.
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
  socket.resume();
  socket.on('error', (e) => die(e));
  socket.on('end', () => {
    process.stdin.unpipe(socket);
    process.stdin.destroy();
    process.stdout.write('', () => process.exit(0));
  });
}

async function runServeEcho(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { socket: { type: 'string' } } });
  if (!values.socket) die(new Error(`serve-echo needs --socket PATH\n${USAGE}`), 2);
  const server = createEchoServer();
  try {
    await listenUnix(server, values.socket, 0o660, {});
  } catch (e) {
    die(e);
  }
  process.stdout.write(JSON.stringify({ msg: 'echo listening', socket: values.socket, pid: process.pid }) + '\n');
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function runCheck(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } } });
  try {
    const config = readConfig(values.config);
    const { meshlets, files } = loadMeshlets(config.meshlets.paths, config.meshlets.inline, { idleTimeoutNs: config.timeouts.idleNs });
    process.stdout.write(`config ${config.source}: ok\n`);
    process.stdout.write(`meshlet files: ${files.length ? files.join(', ') : '(none)'}\n`);
    for (const m of meshlets) process.stdout.write(`  ${m.key}: provides ${m.provides.join(', ') || '-'}; uses ${m.uses.join(', ') || '-'}; idleTimeout ${m.idleTimeout}\n`);
  } catch (e) {
    die(e);
  }
}

/** `weft id`: the tunnel identity named by --identity, else the config's tunnel.identityFile, else ./.weft/identity.json. */
async function runId(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, identity: { type: 'string' }, hex: { type: 'boolean' } } });
  try {
    let file = values.identity;
    if (!file) {
      const config = values.config ? loadAgentConfig(values.config) : undefined;
      file = config?.tunnel?.identityFile ?? './.weft/identity.json';
    }
    const identity = await loadOrCreateIdentity(file);
    process.stdout.write(formatPublicKey(identity.publicKey, values.hex ? 'hex' : 'base64') + '\n');
  } catch (e) {
    die(e);
  }
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'agent':
    await runAgent(rest);
    break;
  case 'connect':
    await runConnect(rest);
    break;
  case 'serve-echo':
    await runServeEcho(rest);
    break;
  case 'check':
    runCheck(rest);
    break;
  case 'explain':
    process.exitCode = runExplainCommand(rest);
    break;
  case 'id':
    await runId(rest);
    break;
  case 'sync': {
    const { runSyncCommand } = await import('./sync/cli.js');
    process.exitCode = await runSyncCommand(rest);
    break;
  }
  case 'sim': {
    // Loaded on demand: the simulator is not needed to run an agent.
    const { runSimCommand } = await import('./sim/cli.js');
    process.exitCode = await runSimCommand(rest);
    break;
  }
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(USAGE);
    break;
  default:
    die(new Error(`unknown command ${command}\n${USAGE}`), 2);
}
