import type { Logger } from '@imm/logging';
import { createHttpApp, type ReadinessChecks } from '@imm/web';
import type { Express } from 'express';
import type { Accounts } from './domain/accounts';
import type { Sessions } from './domain/sessions';
import type { SigningKeys } from './domain/signing-keys';
import type { TokenService } from './domain/tokens';
import type { CookieSettings } from './http/cookies';
import { authOpenApi } from './http/openapi';
import { authRoutes } from './http/routes';

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
    mount: (app) => {
      app.use(routes);
    },
  });
}
