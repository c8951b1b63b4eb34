// The kernel APIs the agent uses, gathered in one place.
export { HandshakeParser, ReplyCode, NEED_MORE, HANDSHAKE_VERSION, MAX_SERVICE_ID_LENGTH, encodeRequest, encodeReply, parseServiceId } from '../kernel/handshake.js';
export { ServiceTable } from '../kernel/service-table.js';
