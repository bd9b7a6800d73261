import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { currentRequestId, REQUEST_ID_HEADER } from '@imm/logging';
import {
  abortedError,
  type DriverFactory,
  type DriverOutcome,
  EndpointRejectedError,
  NOT_ALLOWED_REASON,
  NotSentError,
  TransportError,
} from './driver';
import type { NetworkPolicy } from './network-policy';

/** A reply larger than this is not the protocol's small JSON object. */
const MAX_REPLY_BYTES = 64 * 1024;

function notAllowed(host: string, policy: NetworkPolicy): EndpointRejectedError {
  return new EndpointRejectedError(
    `endpoint host ${host} is outside MACHINE_NETWORKS (${policy.networks.join(', ')})`,
    NOT_ALLOWED_REASON,
  );
}

/**
 * Resolves like the system resolver, then keeps only the addresses MACHINE_NETWORKS allows. The
 * socket connects to the address returned here, so a host cannot pass the check with one address
 * and connect with another.
 */
function guardedLookup(policy: NetworkPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4);
      const allowed = addresses.filter((a) => policy.allows(a.address));
      const first = allowed[0];
      if (!first) return callback(notAllowed(hostname, policy), '', 4);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      callback(null, first.address, first.family);
    });
  };
}

function readReply(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) {
        response.destroy();
        reject(new TransportError('reply too large', { reason: 'bad reply' }));
        return;
      }
      chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}

/** The protocol's answer: `{"result": 1}` is success, `{"result": 2}` failed; all else is nonsense. */
function outcomeOf(status: number, text: string): DriverOutcome {
  if (status < 200 || status > 299)
    throw new TransportError(`machine answered HTTP ${status}`, { reason: 'bad reply' });
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw new TransportError('machine answered with something other than JSON', { reason: 'bad reply' });
  }
  const result = reply && typeof reply === 'object' ? (reply as { result?: unknown }).result : undefined;
  if (result === 1) return 'success';
  if (result === 2) return 'failed';
  throw new TransportError(`machine answered with an unknown result: ${JSON.stringify(result) ?? 'none'}`, {
    reason: 'bad reply',
  });
}

/**
 * The older system's remote protocol: POST `command=START|STOP` form-encoded to the endpoint and
 * read `result` from its JSON reply. Redirects are not followed.
 */
export const httpDriver: DriverFactory = (endpoint, context) => {
  const { policy } = context;
  const send = endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
  const host = endpoint.hostname.replace(/^\[|\]$/g, '');
  return {
    async execute(command, signal) {
      // An address literal is never looked up, so it is checked here.
      if (isIP(host) && !policy.allows(host)) throw notAllowed(host, policy);
      if (signal.aborted) throw abortedError(signal, false);
      const body = new URLSearchParams({ command }).toString();
      const headers: Record<string, string | number> = {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
      };
      const requestId = currentRequestId();
      if (requestId) headers[REQUEST_ID_HEADER] = requestId;
      // Until the connection (and for https its TLS handshake) is up, nothing can have reached the
      // machine: such a failure is retried. From then on the command may have gone out.
      let reached = false;
      return new Promise<DriverOutcome>((resolve, reject) => {
        const req = send(endpoint, { method: 'POST', headers, lookup: guardedLookup(policy), agent: false, signal });
        req.on('socket', (socket) => {
          socket.once(endpoint.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
            reached = true;
          });
        });
        req.on('response', (response) => {
          readReply(response).then((text) => {
            try {
              resolve(outcomeOf(response.statusCode ?? 0, text));
            } catch (error) {
              reject(error);
            }
          }, reject);
        });
        req.on('error', (error) => {
          if (signal.aborted) reject(abortedError(signal, reached));
          else if (error instanceof EndpointRejectedError) reject(error);
          else {
            const code = (error as NodeJS.ErrnoException).code;
            const options = {
              cause: error,
              reason: code === 'ECONNREFUSED' ? ('refused' as const) : ('no answer' as const),
            };
            const detail = `machine unreachable: ${code ?? error.message}`;
            reject(reached ? new TransportError(detail, options) : new NotSentError(detail, options));
          }
        });
        req.end(body);
      }).catch((error: unknown) => {
        if (error instanceof TransportError || error instanceof EndpointRejectedError) throw error;
        throw signal.aborted ? abortedError(signal, reached) : new TransportError(String(error), { cause: error });
      });
    },
  };
};
