import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { NextFunction, Request, RequestHandler } from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { Logger } from '@imm/logging';
import { type AppError, PayloadTooLargeError, ServiceUnavailableError } from '@imm/errors';
import { httpStatusOf } from '@imm/web';
import { spreadOverAddresses } from './upstream-lookup';
import { startUpstreamSpan, type UpstreamSpan } from './upstream-span';

export interface UpstreamAgents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

/**
 * Keep-alive connections to the services. Idle sockets are dropped after 30 s, well before the
 * services' 65 s keep-alive timeout, so the gateway never reuses a socket a service is closing.
 * New connections to a name with several addresses (replicas) take them in turn.
 */
export function createUpstreamAgents(lookup = spreadOverAddresses()): UpstreamAgents {
  const options = { keepAlive: true, timeout: 30_000, maxFreeSockets: 64, lookup };
  const agents = { http: new http.Agent(options), https: new https.Agent(options) };
  return {
    ...agents,
    destroy() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export interface BodyLimit {
  bytes: number;
  /** As configured (`100kb`), for the 413 message. */
  text: string;
}

export interface UpstreamProxyOptions {
  name: string;
  target: string;
  agents: UpstreamAgents;
  /** How long an upstream may stay silent (connecting, or before and while answering). */
  timeoutMs: number;
  bodyLimit: BodyLimit;
  logger: Logger;
}

/** What the proxy knows about one request in flight. */
interface Exchange {
  next: NextFunction;
  proxyReq?: ClientRequest;
  /** With tracing on: the call's span. */
  span?: UpstreamSpan;
  timedOut?: boolean;
  tooLarge?: boolean;
  /** An error or 413 was already handed to express. */
  settled?: boolean;
}

/** Errors that mean the service is not there (or went away): 503, try again later. */
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'EPIPE',
]);

function upstreamError(error: Error & { code?: string }, exchange: Exchange): AppError {
  if (exchange.timedOut) return new ServiceUnavailableError('timed_out', 'upstream_timeout');
  if (error.code && unreachableCodes.has(error.code)) return new ServiceUnavailableError('down');
  // A malformed answer (HPE_* parser errors) or anything else unexpected.
  return new ServiceUnavailableError('bad_reply', 'bad_gateway');
}

/**
 * The forwarding headers, as the gateway sees the client. A client's own X-Forwarded-For is kept
 * only as far as `trust proxy` believes it, so a caller cannot pick the address services log.
 */
function setForwardedHeaders(req: Request): void {
  req.headers['x-forwarded-for'] = [...req.ips, req.socket.remoteAddress ?? ''].filter(Boolean).join(', ');
  req.headers['x-forwarded-proto'] = req.protocol;
  req.headers['x-forwarded-host'] = req.host;
}

/**
 * Creates one service's proxy. Bodies stream through untouched; the Authorization header, the
 * request id (set by createHttpApp on `req.headers`) and the Host header go along unchanged.
 */
export function createUpstreamProxy(options: UpstreamProxyOptions): RequestHandler {
  const { logger, bodyLimit } = options;
  const target = new URL(options.target);
  const exchanges = new WeakMap<IncomingMessage, Exchange>();

  const settle = (exchange: Exchange, error: AppError) => {
    if (exchange.settled) return;
    exchange.settled = true;
    exchange.next(error);
  };

  const proxy = createProxyMiddleware<Request>({
    target: options.target,
    agent: options.target.startsWith('https:') ? options.agents.https : options.agents.http,
    proxyTimeout: options.timeoutMs,
    xfwd: false,
    changeOrigin: false,
    on: {
      proxyReq(proxyReq, req) {
        const exchange = exchanges.get(req);
        if (!exchange) return;
        exchange.proxyReq = proxyReq;
        exchange.span?.inject(proxyReq);
        // `proxyTimeout` aborts the request; this tells the abort apart from a service's reset.
        proxyReq.once('timeout', () => {
          exchange.timedOut = true;
        });
        if (exchange.tooLarge) proxyReq.destroy();
      },
      proxyRes(proxyRes, req) {
        exchanges.get(req)?.span?.answered(proxyRes);
        // The client gets exactly one request id: the gateway's. Keep-Alive is per connection.
        delete proxyRes.headers['x-request-id'];
        delete proxyRes.headers['keep-alive'];
        delete proxyRes.headers['x-powered-by'];
      },
      error(error, req) {
        const exchange = exchanges.get(req as IncomingMessage);
        if (!exchange || exchange.settled) return;
        exchange.span?.failed(error);
        const appError = upstreamError(error, exchange);
        logger.warn(
          { upstream: options.name, code: (error as { code?: string }).code, status: httpStatusOf(appError) },
          `upstream ${options.name} failed: ${error.message}`,
        );
        settle(exchange, appError);
      },
    },
  });

  /** A body without Content-Length is counted as it streams; past the limit the upload is cut. */
  const countChunkedBody = (req: Request, exchange: Exchange) => {
    let seen = 0;
    // Paused, so no chunk flows before the proxy pipes the body on (pipe resumes it).
    req.pause();
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen <= bodyLimit.bytes || exchange.tooLarge) return;
      exchange.tooLarge = true;
      req.unpipe();
      exchange.proxyReq?.destroy();
      req.res?.setHeader('Connection', 'close');
      settle(exchange, new PayloadTooLargeError(bodyLimit.text));
    });
  };

  return (req, res, next) => {
    const declared = req.get('content-length');
    if (declared !== undefined && Number(declared) > bodyLimit.bytes) {
      // The body is not read: close the connection after the answer instead of draining it.
      res.setHeader('Connection', 'close');
      throw new PayloadTooLargeError(bodyLimit.text);
    }
    const exchange: Exchange = { next, span: startUpstreamSpan(req, res, target) };
    exchanges.set(req, exchange);
    if (declared === undefined && req.get('transfer-encoding') !== undefined) countChunkedBody(req, exchange);
    setForwardedHeaders(req);
    return proxy(req, res, next);
  };
}
