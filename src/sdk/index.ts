// The SDK: what a meshlet app imports to serve and reach services through the agent.

export { connect, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, type ConnectOptions } from './client.js';
export {
  MeshServer,
  createMeshServer,
  removeStaleSocket,
  DEFAULT_SOCKET_MODE,
  DEFAULT_CLOSE_DEADLINE_MS,
  type MeshServerOptions,
  type ConnectionInfo,
  type CloseOptions,
  type CloseResult,
} from './server.js';
export {
  MeshHttpServer,
  createMeshHttpServer,
  MeshHttpAgent,
  meshDispatcher,
  normalizeHost,
  serviceIdForHost,
  type MeshHttpServerOptions,
  type MeshHttpAgentOptions,
  type MeshDispatcherOptions,
  type ServiceRouting,
} from './http.js';
export {
  MeshConnectError,
  MeshServerError,
  CONNECT_ERRORS,
  SERVER_ERRORS,
  type MeshConnectErrorCode,
  type MeshServerErrorCode,
  type MeshConnectErrorDetails,
} from './errors.js';
export {
  HANDSHAKE_VERSION,
  HANDSHAKE_REPLY_LENGTH,
  ReplyCode,
  replyCodeName,
  encodeHandshakeRequest,
  encodeHandshakeReply,
  type ReplyCodeName,
} from './handshake.js';
export { isServiceId, isDnsLabel, parseServiceId, serviceIdProblem, MAX_SERVICE_ID_LENGTH, type ServiceIdParts } from './service-id.js';
export { meshletDir, clientSocketPath, serviceSocketPath, MESHLET_DIR_ENV, DEFAULT_MESHLET_DIR, CLIENT_SOCKET_NAME } from './paths.js';
