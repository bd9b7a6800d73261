import { parseId } from '@imm/web';
import type { Upstream } from './config';

export type Access = 'public' | 'protected';

export interface TableRoute {
  /** OpenAPI form, with the trailing slash the API documents; `{name}` is a positive integer id. */
  pattern: string;
  upstream: Upstream;
  /** Protected routes need a valid access token before anything reaches the service. */
  access: Access;
}

/**
 * Every public path the gateway proxies. Methods are not listed: the services answer 405.
 * Literal paths come before the `{id}` paths that would also match them.
 */
export const routeTable: readonly TableRoute[] = [
  { pattern: '/api/sign-up/', upstream: 'auth', access: 'public' },
  { pattern: '/api/sign-in/', upstream: 'auth', access: 'public' },
  { pattern: '/api/log-in/', upstream: 'auth', access: 'public' },
  { pattern: '/api/token/refresh/', upstream: 'auth', access: 'public' },
  { pattern: '/api/auth/jwks.json', upstream: 'auth', access: 'public' },
  { pattern: '/api/sign-out/', upstream: 'auth', access: 'protected' },
  { pattern: '/api/log-out/', upstream: 'auth', access: 'protected' },
  { pattern: '/api/me/', upstream: 'auth', access: 'protected' },
  { pattern: '/api/me/password/', upstream: 'auth', access: 'protected' },
  { pattern: '/api/users/{id}/deactivate/', upstream: 'auth', access: 'protected' },
  { pattern: '/api/machines/history/', upstream: 'operations', access: 'protected' },
  { pattern: '/api/user/machines/history/', upstream: 'operations', access: 'protected' },
  { pattern: '/api/machines/{id}/operation/', upstream: 'operations', access: 'protected' },
  { pattern: '/api/machines/{id}/history/', upstream: 'operations', access: 'protected' },
  { pattern: '/api/machines/{id}/history/{entryId}/', upstream: 'operations', access: 'protected' },
  { pattern: '/api/machines/', upstream: 'machines', access: 'protected' },
  { pattern: '/api/machines/{id}/', upstream: 'machines', access: 'protected' },
];

interface CompiledRoute {
  route: TableRoute;
  regex: RegExp;
  params: string[];
}

function compile(route: TableRoute): CompiledRoute {
  const params: string[] = [];
  const body = route.pattern
    .replace(/\/$/, '')
    .split(/(\{\w+\})/)
    .map((part) => {
      const param = /^\{(\w+)\}$/.exec(part);
      if (param) {
        params.push(param[1] as string);
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  // With or without the trailing slash, never a redirect.
  return { route, regex: new RegExp(`^${body}/?$`), params };
}

const compiled = routeTable.map(compile);

export interface RouteMatch {
  route: TableRoute;
  params: Record<string, number>;
}

/**
 * The table route of a request path, or undefined. A matching path whose id is not a positive
 * integer (that fits the database) throws a 404, so it is never proxied.
 */
export function matchRoute(path: string): RouteMatch | undefined {
  for (const { route, regex, params } of compiled) {
    const found = regex.exec(path);
    if (!found) continue;
    const values: Record<string, number> = {};
    params.forEach((name, i) => {
      values[name] = parseId(found[i + 1]);
    });
    return { route, params: values };
  }
  return undefined;
}
