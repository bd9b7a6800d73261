import { resolve } from 'node:path';
import type { WorkerConfig } from '../../config';
import type { OpcuaSettings } from './opcua-sessions';

/** The OPC UA settings out of the worker's configuration. */
export function opcuaSettingsOf(config: WorkerConfig): OpcuaSettings {
  return {
    pkiFolder: resolve(config.OPCUA_PKI_DIR),
    userName: config.OPCUA_USERNAME,
    password: config.OPCUA_PASSWORD,
    trustUnknownServers: config.OPCUA_TRUST_UNKNOWN_SERVERS,
    connectTimeoutMs: config.DRIVER_TIMEOUT_MS,
    sessionIdleMs: config.OPCUA_SESSION_IDLE_MS,
    transitionTimeoutMs: config.OPCUA_TRANSITION_TIMEOUT_MS,
    startupTimeoutMs: config.OPCUA_STARTUP_TIMEOUT_MS,
  };
}
