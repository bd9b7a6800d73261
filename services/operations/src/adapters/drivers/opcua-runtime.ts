// Everything of the OPC UA driver and monitor that needs node-opcua; loaded through `loadOpcua`.
export { createOpcuaDriver } from './opcua-driver';
export { readEnumeration } from './opcua-nodes';
export { createSessionPool } from './opcua-session-pool';
export { watchValues } from './opcua-watch';
