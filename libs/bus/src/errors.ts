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
