// The kernel APIs the agent uses, in one place so switching the source is one edit.
export { HandshakeParser, ReplyCode, NEED_MORE, HANDSHAKE_VERSION, MAX_SERVICE_ID_LENGTH, encodeRequest, encodeReply, parseServiceId } from './_pending-kernels.js';
export { ServiceTable } from './_pending-kernels.js';
