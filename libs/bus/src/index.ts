export { type Bus, type BusOptions, busReady, connectBus, declareStreams } from './connection';
export { type ConsumerOptions, type RunningConsumer, startConsumer } from './consumer';
export { BusRequestError, BusUnavailableError } from './errors';
export { messagingTablesSql, OutboxMessage, ProcessedEvent } from './outbox-entities';
export { type OutboxRelay, type OutboxRelayOptions, startOutboxRelay } from './outbox-relay';
export { type PublishOptions, publishEvent } from './publish';
export { createEnvelope, markProcessed, OUTBOX_COLUMNS, outboxValues, recordEvent } from './record-event';
export { request, serveRequests } from './requests';
export { deadLetterStreamName, deadLetterSubject, streamNameOf, subjectOf } from './subjects';
