import { type RunningSystem, startSystem } from '@imm/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient } from './client';

/**
 * Two runs at once on one machine share the Postgres, Redis and NATS servers but nothing else:
 * each has its own database, stream prefix and Redis prefix, so the same username signs up in both
 * and one run's data never shows in the other.
 */
let first: RunningSystem;
let second: RunningSystem;

beforeAll(async () => {
  [first, second] = await Promise.all([startSystem(), startSystem()]);
});
afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop()]);
});

it('keeps two systems on the same servers apart', async () => {
  expect(first.env.DATABASE_URL).not.toBe(second.env.DATABASE_URL);
  expect(first.env.BUS_PREFIX).not.toBe(second.env.BUS_PREFIX);
  expect(first.env.REDIS_PREFIX).not.toBe(second.env.REDIS_PREFIX);

  const body = {
    username: 'twin',
    email: 'twin@example.com',
    password: 'molding-twin-1',
    first_name: 'T',
    last_name: 'W',
  };
  const [a, b] = await Promise.all([
    apiClient(first.url).call('POST', '/api/sign-up/', { body }),
    apiClient(second.url).call('POST', '/api/sign-up/', { body }),
  ]);
  expect(a.status).toBe(201);
  expect(b.status).toBe(201);

  const machine = await apiClient(first.url).call('POST', '/api/machines/', {
    token: a.body.result.token.access,
    body: { name: 'press-1', location: 'hall A' },
  });
  expect(machine.status).toBe(201);
  const otherList = await apiClient(second.url).call('GET', '/api/machines/', { token: b.body.result.token.access });
  expect(otherList.status).toBe(200);
  expect(otherList.body.result.count).toBe(0);
});
