import type { RequestHandler, Router } from 'express';
import { MethodNotAllowedError } from '@imm/errors';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Handlers = Partial<Record<Method, RequestHandler | RequestHandler[]>>;

/**
 * Registers the handlers of one path and answers every other method with 405 and `Allow`.
 * Express matches `/path` and `/path/` alike (non-strict routing), so no redirects are needed.
 */
export function route(router: Router, path: string, handlers: Handlers): void {
  const methods = Object.keys(handlers) as Method[];
  const allowed = methods.map((m) => m.toUpperCase());
  if (allowed.includes('GET')) allowed.push('HEAD');
  allowed.push('OPTIONS');
  const chain = router.route(path);
  for (const method of methods) {
    const handler = handlers[method];
    if (handler) chain[method](...(Array.isArray(handler) ? handler : [handler]));
  }
  chain.options((_req, res) => {
    res.set('Allow', allowed.join(', ')).status(204).end();
  });
  chain.all((req) => {
    throw new MethodNotAllowedError(req.method, allowed);
  });
}
