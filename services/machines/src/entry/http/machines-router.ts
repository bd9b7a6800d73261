import { callerOf, requireUser, type TokenVerifier } from '@imm/auth';
import { ValidationError } from '@imm/errors';
import { pageRequestOf, pageView, parseId, route, send, singleValues, validate } from '@imm/web';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { z } from 'zod';
import type { ListRequest, OrderField } from '../../domain/listing';
import { type Caller, type MachineChanges, machineView, machineViewFor } from '../../domain/machine';
import type { MachineService } from '../../domain/machine-service';
import { createMachineBody, listQuerySchema, patchMachineBody, replaceMachineBody } from './schemas';

/** Python's names for JSON's types, as Django's "Expected a dictionary, but got list." used them. */
function pythonTypeName(value: unknown): string {
  if (value === null) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value;
}

/**
 * The body as an object the caller may write: not an object is a 400 on `non_field_errors`, and
 * a non-superuser's `owner_id` is dropped before validation (ignored, not rejected).
 */
function writableBody(req: Request, caller: Caller): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError({
      non_field_errors: [{ key: 'body_not_object', params: { got: pythonTypeName(body) } }],
    });
  }
  const fields = { ...(body as Record<string, unknown>) };
  if (!caller.isSuperuser) delete fields.owner_id;
  return fields;
}

function changesOf(input: z.infer<typeof patchMachineBody>): MachineChanges {
  return {
    name: input.name,
    location: input.location,
    status: input.status,
    endpoint: input.endpoint,
    ownerId: input.owner_id,
  };
}

export function listRequestOf(req: Request): ListRequest {
  const query = validate(listQuerySchema, singleValues(req.query));
  const ordering = query.ordering ?? 'id';
  const descending = ordering.startsWith('-');
  return {
    filter: { status: query.status as ListRequest['filter']['status'], ownerId: query.owner_id, search: query.search },
    ordering: { field: (descending ? ordering.slice(1) : ordering) as OrderField, descending },
    ...pageRequestOf(query),
  };
}

export interface MachinesRouterDeps {
  service: MachineService;
  verifier: TokenVerifier;
}

/** /api/machines/ and /api/machines/{id}/: every route needs an access token. */
export function machinesRouter({ service, verifier }: MachinesRouterDeps): Router {
  const router = express.Router();
  const signedIn = requireUser(verifier);
  const guarded = (handler: RequestHandler): RequestHandler[] => [signedIn, handler];

  route(router, '/api/machines', {
    get: guarded(async (req, res) => {
      send(res, pageView(req, await service.list(listRequestOf(req)), machineViewFor(callerOf(req))));
    }),
    post: guarded(async (req, res) => {
      const caller = callerOf(req);
      const input = validate(createMachineBody, writableBody(req, caller));
      const machine = await service.create(caller, {
        name: input.name,
        location: input.location,
        status: input.status,
        endpoint: input.endpoint,
        ownerId: input.owner_id,
      });
      res.location(`/api/machines/${machine.id}/`);
      send(res, machineView(machine), 201);
    }),
  });

  route(router, '/api/machines/:id', {
    get: guarded(async (req, res) => {
      send(res, machineViewFor(callerOf(req))(await service.get(parseId(req.params.id))));
    }),
    put: guarded(async (req, res) => {
      const caller = callerOf(req);
      const machine = await service.update(caller, parseId(req.params.id), () =>
        changesOf(validate(replaceMachineBody, writableBody(req, caller))),
      );
      send(res, machineView(machine));
    }),
    patch: guarded(async (req, res) => {
      const caller = callerOf(req);
      const machine = await service.update(caller, parseId(req.params.id), () =>
        changesOf(validate(patchMachineBody, writableBody(req, caller))),
      );
      send(res, machineView(machine));
    }),
    delete: guarded(async (req, res) => {
      await service.remove(callerOf(req), parseId(req.params.id));
      res.status(204).end();
    }),
  });

  return router;
}
