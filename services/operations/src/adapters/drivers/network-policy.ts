import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/** `10.0.0.0/8` → its parts, or undefined when it is not a CIDR block. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const match = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  if (!match) return undefined;
  const [, address = '', bits = ''] = match;
  const prefix = Number(bits);
  if (z.ipv4().safeParse(address).success && prefix <= 32) return { address, prefix, family: 'ipv4' };
  if (z.ipv6().safeParse(address).success && prefix <= 128) return { address, prefix, family: 'ipv6' };
  return undefined;
}

/** Which addresses the worker may open connections to (MACHINE_NETWORKS). */
export interface NetworkPolicy {
  allows(address: string): boolean;
  /** For messages: the configured networks. */
  readonly networks: string[];
}

/** Any address: DEV without MACHINE_NETWORKS. */
export const unrestricted: NetworkPolicy = { allows: () => true, networks: [] };

/**
 * Only addresses inside `cidrs`. The check runs on the resolved address the socket connects to,
 * so a hostname that resolves (or re-resolves) outside the networks is refused too.
 */
export function restrictTo(cidrs: string[]): NetworkPolicy {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`not a CIDR block: ${cidr}`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return {
    networks: cidrs,
    allows(address) {
      const family = isIP(address);
      if (family === 4) return list.check(address, 'ipv4');
      if (family !== 6) return false;
      // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 host it names.
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
      return mapped ? list.check(mapped, 'ipv4') : list.check(address, 'ipv6');
    },
  };
}

export function networkPolicy(cidrs: string[]): NetworkPolicy {
  return cidrs.length === 0 ? unrestricted : restrictTo(cidrs);
}
