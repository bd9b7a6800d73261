import { type DriverFactory, EndpointRejectedError, type MachineDriver } from './driver';
import { parseOpcuaEndpoint } from './opcua-endpoint';
import { loadOpcua } from './opcua-loader';

/**
 * EUROMAP 77 (OPC 40077) over OPC UA: `opc.tcp://HOST:PORT[/PATH]?device=NAME&security=…`. The
 * endpoint is checked at once; the driver itself (`createOpcuaDriver` in `opcua-driver.ts`, which
 * says what START and STOP do) is loaded with node-opcua when the command first goes out.
 */
export const opcuaDriver: DriverFactory = (url, context) => {
  const endpoint = parseOpcuaEndpoint(url);
  if (!context.opcua) throw new EndpointRejectedError('this worker has no OPC UA settings');
  const opcua = context.opcua;
  const policy = context.policy;
  // One driver serves one command through all its attempts (it remembers what was sent): made once.
  let driver: Promise<MachineDriver> | undefined;
  const loaded = () => {
    driver ??= loadOpcua().then(({ createOpcuaDriver }) => createOpcuaDriver(endpoint, opcua, policy));
    return driver;
  };
  return {
    execute: async (command, signal) => (await loaded()).execute(command, signal),
    observeOutcome: async (command, signal) => (await loaded()).observeOutcome?.(command, signal),
  };
};
