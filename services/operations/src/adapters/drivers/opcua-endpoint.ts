import { EndpointRejectedError } from './driver';

export type OpcuaSecurity = 'none' | 'sign' | 'signandencrypt';

/** A machine's `opc.tcp://HOST:PORT[/PATH]?device=NAME[&security=…]` endpoint, taken apart. */
export interface OpcuaEndpoint {
  /** The server's endpoint URL without our query: `opc.tcp://host:4840/path`. */
  serverUrl: string;
  /** Host name or address as written (IPv6 without brackets). */
  host: string;
  port: number;
  /** Everything after the port, as written (may be empty). */
  path: string;
  /** Browse name of the machine object under `Objects/DeviceSet`; undefined: the only one there. */
  device: string | undefined;
  security: OpcuaSecurity;
}

/** OPC UA's registered port, used when the endpoint names none. */
const DEFAULT_PORT = 4840;
const SECURITY = new Set<OpcuaSecurity>(['none', 'sign', 'signandencrypt']);
const KNOWN_PARAMETERS = new Set(['device', 'security']);

/** Reads an `opc.tcp://` endpoint; anything it cannot use is rejected (INTERNALFAILED, not retried). */
export function parseOpcuaEndpoint(endpoint: URL): OpcuaEndpoint {
  if (endpoint.protocol !== 'opc.tcp:') throw new EndpointRejectedError(`not an opc.tcp endpoint: ${endpoint.href}`);
  const host = endpoint.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new EndpointRejectedError('opc.tcp endpoint without a host');
  const port = endpoint.port === '' ? DEFAULT_PORT : Number(endpoint.port);
  for (const name of endpoint.searchParams.keys()) {
    if (!KNOWN_PARAMETERS.has(name))
      throw new EndpointRejectedError(`unknown parameter "${name}" in the opc.tcp endpoint (known: device, security)`);
  }
  const security = (endpoint.searchParams.get('security') ?? 'none').toLowerCase() as OpcuaSecurity;
  if (!SECURITY.has(security))
    throw new EndpointRejectedError(`security must be none, sign or signandencrypt, not "${security}"`);
  const device = endpoint.searchParams.get('device') || undefined;
  const path = endpoint.pathname === '/' ? '' : endpoint.pathname;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { serverUrl: `opc.tcp://${hostPart}:${port}${path}`, host, port, path, device, security };
}

/** The same server URL with the host replaced by the address the policy allowed. */
export function serverUrlAt(endpoint: OpcuaEndpoint, address: string): string {
  const hostPart = address.includes(':') ? `[${address}]` : address;
  return `opc.tcp://${hostPart}:${endpoint.port}${endpoint.path}`;
}

/** One session serves every machine of one server with one security mode. */
export function sessionKeyOf(endpoint: OpcuaEndpoint): string {
  return `${endpoint.serverUrl}#${endpoint.security}`;
}
