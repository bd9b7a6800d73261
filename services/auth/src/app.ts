import type { Logger } from '@imm/logging';
import { buildOpenApiDocument, createHttpApp, OpenAPIRegistry, type ReadinessChecks } from '@imm/web';
import type { Express } from 'express';
import type { Accounts } from './domain/accounts';
import type { Sessions } from './domain/sessions';
import type { SigningKeys } from './adapters/signing-keys';
import type { TokenService } from './adapters/jwt-tokens';
import type { CookieSettings } from './entry/http/cookies';
import { authMessages } from './entry/http/messages';
import { authRoutes } from './entry/http/routes';

export interface AppDeps {
  logger: Logger;
  accounts: Accounts;
  sessions: Sessions;
  tokens: TokenService;
  keys: SigningKeys;
  cookies: CookieSettings;
  readiness: ReadinessChecks;
}

/** The auth service's HTTP app, from its dependencies; opening and closing them is main's job. */
export function createApp(deps: AppDeps): Express {
  const registry = new OpenAPIRegistry();
  const routes = authRoutes(deps, registry);
  const openapi = buildOpenApiDocument(registry, {
    title: 'imm-control auth',
    version: '1.0.0',
    description: 'Users and tokens. Served internally; the gateway merges it into /api/openapi.json.',
  });
  return createHttpApp({
    logger: deps.logger,
    readiness: deps.readiness,
    openApi: openapi,
    messages: [authMessages],
    mount: (app) => {
      app.use(routes);
    },
  });
}
