// Where a meshlet finds its sockets. The agent makes a directory per meshlet that the
// meshlet sees as /meshlet (ARCHITECTURE.md); WEFT_MESHLET_DIR overrides it, e.g. when
// the app runs outside a container or in tests.

import { join } from 'node:path';
import { isDnsLabel } from './service-id.js';

export const MESHLET_DIR_ENV = 'WEFT_MESHLET_DIR';
export const DEFAULT_MESHLET_DIR = '/meshlet';
/** The client socket's name inside `<meshlet dir>/client/`. */
export const CLIENT_SOCKET_NAME = 'meshless';

/** The meshlet socket directory: $WEFT_MESHLET_DIR if set and non-empty, else /meshlet. */
export function meshletDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env[MESHLET_DIR_ENV];
  return dir ? dir : DEFAULT_MESHLET_DIR;
}

/** `<dir>/client/meshless`: the agent listens here, the meshlet's clients connect. */
export function clientSocketPath(dir: string = meshletDir()): string {
  return join(dir, 'client', CLIENT_SOCKET_NAME);
}

/** `<dir>/server/<service>`: the meshlet listens here, the agent connects. */
export function serviceSocketPath(service: string, dir: string = meshletDir()): string {
  if (!isDnsLabel(service)) {
    throw new TypeError(`not a service name (a DNS label: 1..63 of a-z, 0-9, '-'): ${JSON.stringify(service)}`);
  }
  return join(dir, 'server', service);
}
