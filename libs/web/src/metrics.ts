import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { collectProcessMetrics, Histogram, metricsContentType, renderMetrics } from '@imm/telemetry';
import type { Request, RequestHandler, Response } from 'express';

const requestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP requests by method, route (the pattern, not the path) and status, and how long they took',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

/**
 * The route a request matched, as a pattern (`/api/machines/:id`), so the histogram has one series
 * per route. The gateway, which routes by its own table, names it in `res.locals.metricsRoute`.
 * Anything unmatched is one series, so scanners cannot grow the label set.
 */
function routeOf(req: Request, res: Response): string {
  const named = res.locals.metricsRoute as string | undefined;
  if (named) return named;
  const path = req.route?.path;
  return typeof path === 'string' ? req.baseUrl + path : 'unmatched';
}

/** Observes every request's duration once its response is finished. */
export const httpMetrics: RequestHandler = (req, res, next) => {
  const started = performance.now();
  res.once('finish', () => {
    // One observe: prom-client hashes the labels either way, so caching labelled children saves nothing.
    requestDuration.observe(
      { method: req.method, route: routeOf(req, res), status: res.statusCode },
      (performance.now() - started) / 1000,
    );
  });
  next();
};

/** Loopback and the private ranges: where a Prometheus inside the plant scrapes from. */
export const DEFAULT_METRICS_ALLOW = [
  '127.0.0.0/8',
  '::1/128',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  'fc00::/7',
];

/** A list of addresses and CIDR ranges (IPv4 and IPv6) as a BlockList; throws on a malformed entry. */
export function addressList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const prefix = bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits);
    if (!type || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) {
      throw new Error(`"${entry}" is not an address or a CIDR range`);
    }
    list.addSubnet(address, prefix, type);
  }
  return list;
}

function allowed(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  // An IPv4 client on a dual-stack socket appears as ::ffff:a.b.c.d.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return list.check(mapped, 'ipv4');
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/**
 * `GET /metrics` in the Prometheus text format. With `allow`, only those socket addresses get it;
 * a request that came through a proxy (it says so in its forwarding headers) never does, since
 * its socket address is the proxy's. Everyone else gets the 404 any unknown path gets.
 */
export function metricsRoute(allow?: BlockList): RequestHandler {
  collectProcessMetrics();
  return (req, res, next) => {
    if (req.path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    if (
      allow &&
      (req.headers['x-forwarded-for'] || req.headers.forwarded || !allowed(allow, req.socket.remoteAddress))
    ) {
      return next();
    }
    renderMetrics().then(
      (text) => void res.type(metricsContentType).send(text),
      (error) => next(error),
    );
  };
}
