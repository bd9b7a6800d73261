export { type Bus, type BusOptions, busReady, connectBus, declareStreams } from './connection';
export { type ConsumerOptions, RejectedEventError, type RunningConsumer, startConsumer } from './consumer';
export { BusRequestError, BusUnavailableError, StreamDeclarationError } from './errors';
export { messagingTablesSql, OutboxMessage, ProcessedEvent } from './outbox-entities';
export { type OutboxRelay, type OutboxRelayOptions, type RelayStats, startOutboxRelay } from './outbox-relay';
export { type PublishOptions, publishEvent } from './publish';
export {
  createEnvelope,
  markProcessed,
  markProcessedStatement,
  OUTBOX_COLUMNS,
  outboxValues,
  recordEvent,
} from './record-event';
export { request, serveRequests } from './requests';
export { deadLetterStreamName, deadLetterSubject, streamNameOf, subjectOf } from './subjects';
export { type DeadLetter, listDeadLetters, replayDeadLetters } from './dead-letters';
export { deleteTransfer, putTransfer, readTransfer, transferBucketName } from './transfers';
