// The sync engine and its sinks (docs/sync.md).
export * from './events.js';
export { NatsSink, subjectFor, streamNameFor, msgIdFor, GAP_HEADER } from './nats-sink.js';
export { FileSink } from './file-sink.js';
