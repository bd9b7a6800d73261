/**
 * The endpoints under load, in the order they run: reads first, then writes, sign-in, commands, and
 * the history lists (which then hold the commands just accepted). Each runs through the gateway
 * and, when the harness started the system, directly against the service behind it.
 */
import type { CommandCycler } from './commands';
import type { LoadRequest, LoadSpec } from './load';
import type { Seed } from './seed-api';
import type { ServiceName } from './system';

export interface EndpointContext {
  seed: Seed;
  cycler: CommandCycler;
}

export interface Endpoint {
  name: string;
  service: ServiceName;
  /** What the results show: the method and the path with `{id}` for the machine. */
  method: LoadRequest['method'];
  path: string;
  request: (context: EndpointContext) => LoadSpec['request'];
  /** Sign-in sends no token. */
  anonymous?: boolean;
  /** Accepts commands: the backlog is drained before and after it. */
  commands?: boolean;
  /** Seconds at least, whatever --duration says: a sign-in takes most of a second under this load. */
  minSeconds?: number;
}

const get = (path: string): LoadRequest => ({ method: 'GET', path });
const listOf = (name: string, path: string): Endpoint => ({
  name,
  service: 'machines',
  method: 'GET',
  path,
  request: () => get(path),
});

export const endpoints: Endpoint[] = [
  listOf('list', '/api/machines/?page=1'),
  listOf('list filtered+ordered', '/api/machines/?status=2&ordering=-created_at'),
  listOf('list search', '/api/machines/?search=ress-9&page_size=20'),
  {
    name: 'get one',
    service: 'machines',
    method: 'GET',
    path: '/api/machines/{id}/',
    request: ({ seed }) => get(`/api/machines/${seed.machines.get}/`),
  },
  {
    name: 'put',
    service: 'machines',
    method: 'PUT',
    path: '/api/machines/{id}/',
    request: ({ seed }) => ({
      method: 'PUT',
      path: `/api/machines/${seed.machines.put}/`,
      body: JSON.stringify({ name: 'bench-put', location: 'hall-put', status: 3 }),
    }),
  },
  {
    name: 'patch',
    service: 'machines',
    method: 'PATCH',
    path: '/api/machines/{id}/',
    request: ({ seed }) => ({
      method: 'PATCH',
      path: `/api/machines/${seed.machines.patch}/`,
      body: JSON.stringify({ location: 'hall-patch' }),
    }),
  },
  {
    name: 'sign-in',
    service: 'auth',
    method: 'POST',
    path: '/api/sign-in/',
    anonymous: true,
    minSeconds: 2,
    request: ({ seed }) => ({
      method: 'POST',
      path: '/api/sign-in/',
      body: JSON.stringify({ username: seed.username, password: seed.password }),
    }),
  },
  {
    name: 'command accepts',
    service: 'operations',
    method: 'POST',
    path: '/api/machines/{id}/operation/',
    commands: true,
    request:
      ({ cycler }) =>
      () =>
        cycler.next(),
  },
  {
    name: 'history (own)',
    service: 'operations',
    method: 'GET',
    path: '/api/machines/history/',
    request: () => get('/api/machines/history/'),
  },
  {
    name: 'history (machine)',
    service: 'operations',
    method: 'GET',
    path: '/api/machines/{id}/history/',
    request: ({ seed }) => get(`/api/machines/${seed.commandMachines[0]}/history/`),
  },
];

/** GET one while sign-ins keep the password hashing busy: the two run at the same time. */
export const getOneDuringSignIns = {
  name: 'get one during sign-ins',
  signIn: endpoints.find((e) => e.name === 'sign-in') as Endpoint,
  getOne: endpoints.find((e) => e.name === 'get one') as Endpoint,
};
