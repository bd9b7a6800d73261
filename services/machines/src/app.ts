import type { TokenVerifier } from '@imm/auth';
import type { Logger } from '@imm/logging';
import { createHttpApp, type ReadinessChecks } from '@imm/web';
import type { Express } from 'express';
import type { MachineService } from './domain/machine-service';
import { machinesRouter } from './entry/http/machines-router';
import { machinesOpenApi } from './entry/http/openapi';

export interface AppDeps {
  logger: Logger;
  service: MachineService;
  verifier: TokenVerifier;
  /** Readiness checks by name (database, nats). */
  readiness: ReadinessChecks;
}

/** The machines HTTP app from its dependencies; importing this module starts nothing. */
export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    readiness: deps.readiness,
    openApi: machinesOpenApi(),
    mount(app) {
      app.use(machinesRouter({ service: deps.service, verifier: deps.verifier }));
    },
  });
}
