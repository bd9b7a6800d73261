import type { Logger } from '@imm/logging';
import { createHttpApp, type ReadinessChecks } from '@imm/web';
import type { Express } from 'express';
import type { Accounts } from './domain/accounts';
import type { Sessions } from './domain/sessions';
import type { SigningKeys } from './adapters/signing-keys';
import type { TokenService } from './adapters/jwt-tokens';
import type { CookieSettings } from './entry/http/cookies';
import { authMessages } from './entry/http/messages';
import { authRoutes } from './entry/http/routes';
import { authOpenApi } from './entry/http/openapi';

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
  const routes = authRoutes(deps);
  return createHttpApp({
    logger: deps.logger,
    readiness: deps.readiness,
    openApi: authOpenApi(),
    messages: [authMessages],
    mount: (app) => {
      app.use(routes);
    },
  });
}
