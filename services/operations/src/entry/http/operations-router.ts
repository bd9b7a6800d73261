import { callerOf, type Principal, requireUser, type TokenVerifier } from '@imm/auth';
import type { PageRequest } from '@imm/contracts';
import { currentRequestId } from '@imm/logging';
import { ValidationError } from '@imm/errors';
import { pageRequestOf, pageView, parseId, route, send, singleValues, validate } from '@imm/web';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { countCommand } from '../../adapters/metrics';
import { type CommandDecision, refusalOf } from '../../domain/command-decision';
import type { Caller } from '../../domain/commands';
import type { HistoryFilter } from '../../domain/history';
import type { OperationService } from '../../domain/operation-service';
import { historyQuerySchema, idempotencyKeySchema, machineHistoryQuerySchema, operationBody } from './schemas';
import { entryLocation, entryView } from './views';

const IDEMPOTENCY_HEADER = 'idempotency-key';

function callerFrom(principal: Principal): Caller {
  return { id: principal.id, isSuperuser: principal.isSuperuser };
}

/**
 * The answer to a decision, the same for a first request and a replay: 202 with the PENDING entry
 * and its Location, or the refusal's error, which the error handler writes in the language of the
 * request being answered.
 */
function answer(res: Response, decision: CommandDecision): void {
  if (decision.kind === 'refused') throw refusalOf(decision);
  res.location(entryLocation(decision.entry));
  send(res, entryView(decision.entry), 202);
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
      const outcome = await service.request({
        caller,
        machineId,
        command,
        requestDatetime,
        requestId: currentRequestId(),
        idempotencyKey: key,
      });
      const { decision } = outcome;
      if (outcome.replayed) res.set('Idempotent-Replayed', 'true');
      else if (decision.kind === 'accepted') countCommand(decision.entry.command, decision.entry.result);
      else countCommand(decision.command, decision.result);
      answer(res, decision);
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
