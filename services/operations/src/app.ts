import type { TokenVerifier } from '@imm/auth';
import type { Logger } from '@imm/logging';
import { createHttpApp, type ReadinessChecks } from '@imm/web';
import type { Express } from 'express';
import type { OperationService } from './domain/operation-service';
import { operationsOpenApi } from './entry/http/openapi';
import { operationsRouter } from './entry/http/operations-router';

export interface AppDeps {
  logger: Logger;
  service: OperationService;
  verifier: TokenVerifier;
  /** Readiness checks by name (database, redis, nats). */
  readiness: ReadinessChecks;
}

/** The operations HTTP app from its dependencies; importing this module starts nothing. */
export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    readiness: deps.readiness,
    openApi: operationsOpenApi(),
    mount(app) {
      app.use(operationsRouter({ service: deps.service, verifier: deps.verifier }));
    },
  });
}
