import { buildOpenApiDocument, OpenAPIRegistry, registerRoute } from '@imm/web';
import {
  createMachineBody,
  idParams,
  listQuerySchema,
  machinePageSchema,
  machineSchema,
  patchMachineBody,
  replaceMachineBody,
} from './schemas';

const tags = ['machines'];

/** This service's part of the public OpenAPI document, served at GET /openapi.json. */
export function machinesOpenApi() {
  const registry = new OpenAPIRegistry();
  registerRoute(registry, {
    method: 'get',
    path: '/api/machines/',
    operationId: 'listMachines',
    summary: 'List machines (every signed-in user sees all), filtered, searched, ordered and paginated',
    tags,
    secured: true,
    query: listQuerySchema,
    success: { status: 200, description: 'One page of machines', result: machinePageSchema },
    errors: [400, 401, 404],
  });
  registerRoute(registry, {
    method: 'post',
    path: '/api/machines/',
    operationId: 'createMachine',
    summary: 'Register a machine; the caller owns it (a superuser may name the owner)',
    tags,
    secured: true,
    body: createMachineBody,
    success: {
      status: 201,
      description: 'The new machine',
      result: machineSchema,
      headers: { Location: 'The new machine’s URL' },
    },
    errors: [400, 401, 415],
  });
  registerRoute(registry, {
    method: 'get',
    path: '/api/machines/{id}/',
    operationId: 'getMachine',
    summary: 'One machine',
    tags,
    secured: true,
    params: idParams,
    success: { status: 200, description: 'The machine', result: machineSchema },
    errors: [401, 404],
  });
  registerRoute(registry, {
    method: 'put',
    path: '/api/machines/{id}/',
    operationId: 'replaceMachine',
    summary: 'Replace a machine’s fields (owner or superuser); optional fields left out keep their value',
    tags,
    secured: true,
    params: idParams,
    body: replaceMachineBody,
    success: { status: 200, description: 'The machine after the change', result: machineSchema },
    errors: [400, 401, 403, 404, 415],
  });
  registerRoute(registry, {
    method: 'patch',
    path: '/api/machines/{id}/',
    operationId: 'updateMachine',
    summary: 'Change some of a machine’s fields (owner or superuser)',
    tags,
    secured: true,
    params: idParams,
    body: patchMachineBody,
    success: { status: 200, description: 'The machine after the change', result: machineSchema },
    errors: [400, 401, 403, 404, 415],
  });
  registerRoute(registry, {
    method: 'delete',
    path: '/api/machines/{id}/',
    operationId: 'deleteMachine',
    summary: 'Delete a machine (owner or superuser); its command history is kept',
    tags,
    secured: true,
    params: idParams,
    success: { status: 204, description: 'Deleted (no body)' },
    errors: [401, 403, 404],
  });
  return buildOpenApiDocument(registry, {
    title: 'imm-control machines',
    version: '1.0.0',
    description: 'Injection molding machines: registry, status and ownership.',
  });
}
