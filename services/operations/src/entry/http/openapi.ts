import { buildOpenApiDocument, OpenAPIRegistry, registerRoute } from '@imm/web';
import {
  entryParams,
  historyEntrySchema,
  historyPageSchema,
  historyQuerySchema,
  idempotencyHeaders,
  idParams,
  machineHistoryQuerySchema,
  operationBody,
} from './schemas';

const tags = ['operations'];

/** This service's part of the public OpenAPI document, served at GET /openapi.json. */
export function operationsOpenApi() {
  const registry = new OpenAPIRegistry();
  registerRoute(registry, {
    method: 'post',
    path: '/api/machines/{id}/operation/',
    operationId: 'operateMachine',
    summary:
      'Start or stop a machine (owner or superuser). Accepted commands are driven by the worker; a refused one (403, or 409 for the wrong state) is recorded in the history too. One command at a time per machine: another while one is pending is a 409.',
    tags,
    secured: true,
    params: idParams,
    headers: idempotencyHeaders,
    body: operationBody,
    success: {
      status: 202,
      description: 'Accepted: the history entry, result 4 PENDING; poll its Location for the result',
      result: historyEntrySchema,
      headers: {
        Location: 'The history entry: /api/machines/{id}/history/{entryId}/',
        'Idempotent-Replayed': '`true` when this answers what an earlier request with the same Idempotency-Key decided',
      },
    },
    errors: [400, 401, 403, 404, 409, 415],
  });
  const ownHistory = {
    method: 'get' as const,
    summary: 'Commands the caller asked for or whose machine they own, newest first, filtered and paginated',
    tags,
    secured: true,
    query: historyQuerySchema,
    success: { status: 200, description: 'One page of history entries', result: historyPageSchema },
    errors: [400, 401, 404],
  };
  registerRoute(registry, { ...ownHistory, path: '/api/machines/history/', operationId: 'listHistory' });
  registerRoute(registry, {
    ...ownHistory,
    path: '/api/user/machines/history/',
    operationId: 'listUserHistory',
    summary: `${ownHistory.summary} (the older deployment's name for /api/machines/history/)`,
  });
  registerRoute(registry, {
    method: 'get',
    path: '/api/machines/{id}/history/',
    operationId: 'listMachineHistory',
    summary: 'Every command of one machine, newest first (owner or superuser); kept after the machine is deleted',
    tags,
    secured: true,
    params: idParams,
    query: machineHistoryQuerySchema,
    success: { status: 200, description: 'One page of history entries', result: historyPageSchema },
    errors: [400, 401, 403, 404],
  });
  registerRoute(registry, {
    method: 'get',
    path: '/api/machines/{id}/history/{entryId}/',
    operationId: 'getHistoryEntry',
    summary: 'One history entry (the machine’s owner, a superuser, or whoever asked for the command)',
    tags,
    secured: true,
    params: entryParams,
    success: { status: 200, description: 'The history entry', result: historyEntrySchema },
    errors: [401, 403, 404],
  });
  return buildOpenApiDocument(registry, {
    title: 'imm-control operations',
    version: '1.0.0',
    description: 'Machine commands and their history. Served internally; the gateway merges it into /api/openapi.json.',
  });
}
