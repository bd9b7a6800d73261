import { callerOf, type Principal, requireUser, type TokenVerifier } from '@imm/auth';
import { OperationResult } from '@imm/contracts';
import { currentRequestId } from '@imm/logging';
import { ConflictError, PermissionDeniedError, ValidationError } from '@imm/errors';
import {
  errorEnvelope,
  type Language,
  languageOf,
  type PageRequest,
  pageRequestOf,
  pageView,
  parseId,
  route,
  send,
  singleValues,
  validate,
} from '@imm/web';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Caller } from '../../domain/commands';
import type { HistoryEntry, HistoryFilter } from '../../domain/history';
import type { OperationService, ReplayableResponse } from '../../domain/operation-service';
import { historyQuerySchema, idempotencyKeySchema, machineHistoryQuerySchema, operationBody } from './schemas';
import { entryLocation, entryView } from './views';
import { countCommand } from '../../adapters/metrics';

const IDEMPOTENCY_HEADER = 'idempotency-key';

function callerFrom(principal: Principal): Caller {
  return { id: principal.id, isSuperuser: principal.isSuperuser };
}

/**
 * The response an entry gets: 202 with the entry for an accepted command, the refusal otherwise.
 * Also what an Idempotency-Key stores, so a retry gets exactly this again.
 */
function responseFor(entry: HistoryEntry, language: Language): ReplayableResponse {
  switch (entry.result) {
    case OperationResult.PENDING:
      return { status: 202, body: { status: 1, result: entryView(entry) }, location: entryLocation(entry) };
    case OperationResult.PERMISSIONDENIED:
      return { status: 403, body: errorEnvelope(new PermissionDeniedError(), language) };
    default:
      return { status: 409, body: errorEnvelope(new ConflictError(), language) };
  }
}

function write(res: Response, response: ReplayableResponse): void {
  if (response.location) res.location(response.location);
  res.status(response.status).json(response.body);
}

function idempotencyKeyOf(req: Request): string | undefined {
  const raw = req.get(IDEMPOTENCY_HEADER);
  if (raw === undefined) return undefined;
  const parsed = idempotencyKeySchema.safeParse(raw);
  if (!parsed.success) throw ValidationError.field('Idempotency-Key', 'invalid_value');
  return parsed.data;
}

function historyRequestOf(
  req: Request,
  schema: typeof historyQuerySchema | typeof machineHistoryQuerySchema,
): { filter: HistoryFilter; page: PageRequest } {
  const query = validate(schema, singleValues(req.query)) as ReturnType<typeof historyQuerySchema.parse>;
  return {
    filter: {
      machineId: query.machine_id,
      command: query.command,
      result: query.result,
      since: query.since,
      until: query.until,
    },
    page: pageRequestOf(query),
  };
}

export interface OperationsRouterDeps {
  service: OperationService;
  verifier: TokenVerifier;
}

/** Commands (POST …/operation/) and history; every route needs an access token. */
export function operationsRouter({ service, verifier }: OperationsRouterDeps): Router {
  const router = express.Router();
  const signedIn = requireUser(verifier);
  const guarded = (handler: RequestHandler): RequestHandler[] => [signedIn, handler];

  route(router, '/api/machines/:id/operation', {
    post: guarded(async (req, res) => {
      const requestDatetime = new Date();
      const caller = callerFrom(callerOf(req));
      const machineId = parseId(req.params.id);
      const key = idempotencyKeyOf(req);
      const { command } = validate(operationBody, req.body);
      const language = languageOf(req);
      const outcome = await service.request({
        caller,
        machineId,
        command,
        requestDatetime,
        requestId: currentRequestId(),
        idempotency: key === undefined ? undefined : { key, respond: (entry) => responseFor(entry, language) },
      });
      if (outcome.kind === 'replay') {
        res.set('Idempotent-Replayed', 'true');
        write(res, outcome.response);
      } else {
        countCommand(outcome.entry.command, outcome.entry.result);
        write(res, responseFor(outcome.entry, language));
      }
    }),
  });

  const ownHistory = guarded(async (req, res) => {
    const { filter, page } = historyRequestOf(req, historyQuerySchema);
    send(res, pageView(req, await service.listOwnHistory(callerFrom(callerOf(req)), filter, page), entryView));
  });
  route(router, '/api/machines/history', { get: ownHistory });
  // The Django deployment's name for the same list.
  route(router, '/api/user/machines/history', { get: ownHistory });

  route(router, '/api/machines/:id/history', {
    get: guarded(async (req, res) => {
      const caller = callerFrom(callerOf(req));
      const machineId = parseId(req.params.id);
      const { filter, page } = historyRequestOf(req, machineHistoryQuerySchema);
      send(res, pageView(req, await service.listMachineHistory(caller, machineId, filter, page), entryView));
    }),
  });

  route(router, '/api/machines/:id/history/:entryId', {
    get: guarded(async (req, res) => {
      const caller = callerFrom(callerOf(req));
      const entry = await service.getMachineEntry(caller, parseId(req.params.id), parseId(req.params.entryId));
      send(res, entryView(entry));
    }),
  });

  return router;
}
