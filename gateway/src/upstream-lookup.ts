import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';

type Resolve = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolve: Resolve = (hostname, options, callback) => dns.lookup(hostname, options, callback);

/**
 * The upstream agents' `lookup`: a service name's addresses handed out in turn. Where a name has one
 * address per replica (Docker's DNS for a scaled compose service, a headless Kubernetes Service),
 * each new connection goes to the next replica, instead of to whichever address the system resolver
 * sorts first; the others stay in the list, so a connection attempt that fails tries the next one.
 */
export function spreadOverAddresses(resolve: Resolve = systemResolve): LookupFunction {
  let turn = 0;
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error || addresses.length === 0) {
        callback(error ?? Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        return;
      }
      const start = turn % addresses.length;
      turn += 1;
      const rotated = [...addresses.slice(start), ...addresses.slice(0, start)];
      const first = rotated[0] as LookupAddress;
      if (options.all) callback(null, rotated);
      else callback(null, first.address, first.family);
    });
  };
}
