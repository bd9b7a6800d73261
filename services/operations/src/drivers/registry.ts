import {
  type DriverContext,
  type DriverFactory,
  EndpointRejectedError,
  type MachineDriver,
  NO_DRIVER_REASON,
} from './driver';

/** A machine without an endpoint is the built-in simulated machine. */
export const DEFAULT_ENDPOINT = 'sim://default';

export interface DriverRegistry {
  /** The driver for a machine's endpoint; an unknown scheme or a malformed endpoint is rejected. */
  driverFor(endpoint: string | null): MachineDriver;
}

/** Drivers chosen by the endpoint's URL scheme (`sim:`, `http:`, …). */
export function createDriverRegistry(factories: Record<string, DriverFactory>, context: DriverContext): DriverRegistry {
  return {
    driverFor(endpoint) {
      let url: URL;
      try {
        url = new URL(endpoint ?? DEFAULT_ENDPOINT);
      } catch {
        throw new EndpointRejectedError(`endpoint is not a URL: ${endpoint}`, NO_DRIVER_REASON);
      }
      const factory = factories[url.protocol];
      if (!factory)
        throw new EndpointRejectedError(`no driver for endpoint scheme "${url.protocol}"`, NO_DRIVER_REASON);
      return factory(url, context);
    },
  };
}
