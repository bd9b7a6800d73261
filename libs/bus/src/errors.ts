/** NATS is unreachable, or nobody answered in time: services answer 503 SERVICEUNAVAILABLE. */
export class BusUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusUnavailableError';
  }
}

/** The responder answered, but with a failure or a reply that breaks the contract. */
export class BusRequestError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusRequestError';
  }
}

/** A stream NATS would not create or change, named with the setting that usually explains it. */
export class StreamDeclarationError extends Error {
  constructor(stream: string, replicas: number, cause: unknown) {
    super(
      `stream ${stream} with ${replicas} replica(s) (NATS_STREAM_REPLICAS) was refused by NATS: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'StreamDeclarationError';
  }
}
