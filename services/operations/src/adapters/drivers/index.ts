import type { DriverFactory } from './driver';
import { httpDriver } from './http';
import { opcuaDriver } from './opcua';
import { simDriver } from './sim';

export * from './driver';
export * from './registry';
export * from './network-policy';
export * from './opcua-sessions';

/**
 * The drivers by endpoint scheme. A new protocol (OPC UA, EUROMAP 77) is a file of its own and one
 * line here.
 */
export const driverFactories: Record<string, DriverFactory> = {
  'sim:': simDriver,
  'http:': httpDriver,
  'https:': httpDriver,
  'opc.tcp:': opcuaDriver,
};
