// Where a meshlet instance's sockets live under the socket root:
//
//   <root>/<namespace>/<meshlet>/<instance>/        the instance directory, seen by the app as /meshlet
//   <root>/<namespace>/<meshlet>/<instance>/client/meshless   the agent listens; the app connects
//   <root>/<namespace>/<meshlet>/<instance>/server/<service>  the app listens; the agent connects
//
// Which meshlet (and instance) a client is follows from which client socket it used.
import { join } from 'node:path';

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
export const CLIENT_SOCKET_NAME = 'meshless';

export function instanceDir(root: string, namespace: string, meshlet: string, instance: string): string {
  return join(root, namespace, meshlet, instance);
}

export function clientSocketPath(instanceDirectory: string): string {
  return join(instanceDirectory, 'client', CLIENT_SOCKET_NAME);
}

export function serverSocketPath(instanceDirectory: string, service: string): string {
  return join(instanceDirectory, 'server', service);
}

export function socketPathFits(path: string): boolean {
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES;
}
