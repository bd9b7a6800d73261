import { Validator } from '@seriousme/openapi-schema-validator';
import { query, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningOperationsApi } from '../src/main';
import type { RunningOperationsWorker } from '../src/worker';
import {
  baseEnv,
  cleanUp,
  client,
  type MachinesStandIn,
  type Reply,
  serviceEnv,
  startApi,
  startIssuer,
  startMachinesStandIn,
  startWorker,
  type TestEnv,
  type TestIssuer,
} from './harness';

const OWNER = 101;
const OTHER = 102;
const ADMIN = 900;

let issuer: TestIssuer;
let env: TestEnv;
let standIn: MachinesStandIn;
let api: RunningOperationsApi;
let worker: RunningOperationsWorker;
let call: ReturnType<typeof client>;
const tokens: Record<'owner' | 'other' | 'admin', string> = { owner: '', other: '', admin: '' };
let nextMachineId = 1;

beforeAll(async () => {
  issuer = await startIssuer();
  env = baseEnv('ops', issuer.jwksUrl);
  standIn = await startMachinesStandIn(env.NATS_URL, env.BUS_PREFIX);
  const settings = serviceEnv(env);
  api = await startApi(settings);
  worker = await startWorker(settings);
  call = client(`http://127.0.0.1:${api.port}`);
  tokens.owner = issuer.token({ id: OWNER });
  tokens.other = issuer.token({ id: OTHER });
  tokens.admin = issuer.token({ id: ADMIN, superuser: true });
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await standIn?.stop();
  await issuer?.close();
  if (env) await cleanUp(env);
});

function machine(fields: { status?: 1 | 2 | 3 | 4 | 5; endpoint?: string | null; owner_id?: number } = {}) {
  return standIn.add({ id: nextMachineId++, owner_id: OWNER, ...fields });
}

function operate(machineId: number, command: unknown, token = tokens.owner, headers: Record<string, string> = {}) {
  return call('POST', `/api/machines/${machineId}/operation/`, { token, body: { command }, headers });
}

async function entriesOf(machineId: number) {
  return query<{
    id: number;
    result: number;
    command: string;
    worker: number;
    finished_at: Date | null;
    message: string | null;
  }>(
    env.DATABASE_URL,
    'select id, result, command, worker, finished_at, message from operations.operation where machine_id = $1 order by id',
    [machineId],
  );
}

/** Polls the entry's Location until it is no longer PENDING. */
async function finalEntry(location: string, token = tokens.owner) {
  return waitFor(async () => {
    const reply = await call('GET', location, { token });
    return reply.status === 200 && reply.body.result.result !== 4 ? reply.body.result : undefined;
  });
}

function completionsOf(operationId: number) {
  return standIn.completions.filter((event) => event.data.operation_id === operationId);
}

describe('the result table', () => {
  it('SUCCESS: 202 with a PENDING entry and its Location, then the machine confirms; the machine becomes RUNNING', async () => {
    const m = machine({ endpoint: 'sim://press-1?latency_ms=300' });
    const reply = await operate(m.id, 'start', tokens.owner, { 'x-request-id': 'req-success-1' });
    expect(reply.status).toBe(202);
    expect(reply.body.status).toBe(1);
    const entry = reply.body.result;
    expect(entry).toEqual({
      id: expect.any(Number),
      request_datetime: expect.any(String),
      command: 'START',
      worker: OWNER,
      machine_id: m.id,
      machine_owner_id: OWNER,
      result: 4,
      created_at: expect.any(String),
      finished_at: null,
      message: null,
    });
    expect(reply.headers.get('location')).toBe(`/api/machines/${m.id}/history/${entry.id}/`);

    // While the machine works on it, the entry reads PENDING.
    const pending = await call('GET', reply.headers.get('location') as string, { token: tokens.owner });
    expect(pending.status).toBe(200);
    expect(pending.body.result.result).toBe(4);

    const final = await finalEntry(reply.headers.get('location') as string);
    expect(final).toMatchObject({ id: entry.id, result: 1, message: null, finished_at: expect.any(String) });
    await waitFor(() => completionsOf(entry.id).length === 1);
    const [event] = completionsOf(entry.id);
    expect(event?.data).toMatchObject({
      operation_id: entry.id,
      machine_id: m.id,
      command: 'START',
      result: 1,
      worker: OWNER,
    });
    expect(event?.request_id).toBe('req-success-1');
    expect(m.status).toBe(4);
    await waitFor(() => standIn.requested.some((e) => e.data.operation_id === entry.id));
  });

  it('SUCCESS of STOP makes the machine READY', async () => {
    const m = machine({ status: 4 });
    const reply = await operate(m.id, 'STOP');
    expect(reply.status).toBe(202);
    expect(await finalEntry(reply.headers.get('location') as string)).toMatchObject({ command: 'STOP', result: 1 });
    await waitFor(() => m.status === 2);
  });

  it('REMOTEFAILED: the machine answers that it failed; not retried; the machine becomes ERROR', async () => {
    const m = machine({ endpoint: 'sim://press-2?fail_rate=1' });
    const reply = await operate(m.id, 'START');
    expect(reply.status).toBe(202);
    const final = await finalEntry(reply.headers.get('location') as string);
    expect(final).toMatchObject({ result: 2, message: expect.stringContaining('failed') });
    await waitFor(() => m.status === 5);
  });

  it('INTERNALFAILED: the machine cannot be reached, after retries; the status is unchanged', async () => {
    const m = machine({ endpoint: 'sim://press-3?error_rate=1' });
    const reply = await operate(m.id, 'START');
    expect(reply.status).toBe(202);
    const final = await finalEntry(reply.headers.get('location') as string);
    expect(final.result).toBe(3);
    expect(final.message).toBe('no answer');
    await waitFor(() => completionsOf(final.id).length === 1);
    expect(m.status).toBe(2);
  });

  it('INTERNALFAILED for an endpoint no driver speaks', async () => {
    const m = machine({ endpoint: 'opcua://press-4' });
    const reply = await operate(m.id, 'START');
    const final = await finalEntry(reply.headers.get('location') as string);
    expect(final).toMatchObject({ result: 3, message: 'no driver for this endpoint' });
  });

  it('PERMISSIONDENIED: 403 for a user who does not own the machine, and an audit entry', async () => {
    const m = machine();
    const reply = await operate(m.id, 'START', tokens.other);
    expect(reply.status).toBe(403);
    expect(reply.body).toMatchObject({ status: 0, error_code: 4 });
    const rows = await entriesOf(m.id);
    expect(rows).toMatchObject([
      { result: 5, command: 'START', worker: OTHER, message: expect.stringContaining('owner') },
    ]);
    expect(rows[0]?.finished_at).toBeInstanceOf(Date);
    // Nothing happened to the machine: no job, no completion.
    expect(completionsOf(rows[0]?.id as number)).toEqual([]);
    expect(m.status).toBe(2);
  });

  it('INVALIDCOMMAND: 409 for a command the state rules out, and an audit entry', async () => {
    for (const [status, command] of [
      [2, 'STOP'],
      [4, 'START'],
      [1, 'START'],
      [1, 'STOP'],
      [5, 'START'],
      [5, 'STOP'],
    ] as const) {
      const m = machine({ status });
      const reply = await operate(m.id, command);
      expect(reply.status, `${command} from ${status}`).toBe(409);
      expect(reply.body).toMatchObject({ status: 0, error_code: 11 });
      expect(await entriesOf(m.id)).toMatchObject([
        { result: 7, command, message: expect.stringContaining('allowed only') },
      ]);
    }
  });

  it('accepts START and STOP from PAUSE', async () => {
    for (const command of ['START', 'STOP']) {
      const m = machine({ status: 3 });
      const reply = await operate(m.id, command);
      expect(reply.status).toBe(202);
      await finalEntry(reply.headers.get('location') as string);
    }
  });
});

describe('refusals before anything is recorded', () => {
  it('400 for a missing or unknown command; nothing recorded', async () => {
    const m = machine();
    for (const body of [{ command: 'JUMP' }, {}, { command: 3 }, { command: null }]) {
      const reply = await call('POST', `/api/machines/${m.id}/operation/`, { token: tokens.owner, body });
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body).toMatchObject({ status: 0, error_code: 2, message: { command: [expect.any(String)] } });
    }
    const wrong = await operate(m.id, 'jump');
    expect(wrong.body.message.command).toEqual(['"jump" is not a valid choice.']);
    const array = await call('POST', `/api/machines/${m.id}/operation/`, { token: tokens.owner, body: ['START'] });
    expect(array.status).toBe(400);
    expect(await entriesOf(m.id)).toEqual([]);
  });

  it('401 without a valid access token', async () => {
    const m = machine();
    expect((await operate(m.id, 'START', '')).status).toBe(401);
    expect((await operate(m.id, 'START', 'garbage')).status).toBe(401);
    expect((await operate(m.id, 'START', issuer.token({ id: OWNER, type: 'refresh' }))).status).toBe(401);
    expect((await operate(m.id, 'START', issuer.token({ id: OWNER, expiresIn: -10 }))).status).toBe(401);
    expect(await entriesOf(m.id)).toEqual([]);
  });

  it('404 for an unknown machine or an id that is not a positive integer', async () => {
    expect((await operate(999_999, 'START')).status).toBe(404);
    expect(
      (await call('POST', '/api/machines/abc/operation/', { token: tokens.owner, body: { command: 'START' } })).status,
    ).toBe(404);
    expect(
      (await call('POST', '/api/machines/0/operation', { token: tokens.owner, body: { command: 'START' } })).status,
    ).toBe(404);
  });

  it('503 SERVICEUNAVAILABLE when the machines service does not answer; nothing recorded', async () => {
    const m = machine();
    standIn.setAnswering(false);
    try {
      const reply = await operate(m.id, 'START');
      expect(reply.status).toBe(503);
      expect(reply.body).toMatchObject({ status: 0, error_code: 12 });
      expect(reply.headers.get('retry-after')).toBeTruthy();
    } finally {
      standIn.setAnswering(true);
    }
    expect(await entriesOf(m.id)).toEqual([]);
  });

  it('405 with Allow for another method; paths work without the trailing slash', async () => {
    const m = machine();
    const reply = await call('GET', `/api/machines/${m.id}/operation/`, { token: tokens.owner });
    expect(reply.status).toBe(405);
    expect(reply.headers.get('allow')).toContain('POST');
    const noSlash = await call('POST', `/api/machines/${m.id}/operation`, {
      token: tokens.owner,
      body: { command: 'START' },
    });
    expect(noSlash.status).toBe(202);
    await finalEntry(noSlash.headers.get('location') as string);
  });
});

describe('one command at a time', () => {
  it('409 for another command while one is PENDING; nothing recorded for it', async () => {
    const m = machine({ endpoint: 'sim://slow?latency_ms=700' });
    const first = await operate(m.id, 'START');
    expect(first.status).toBe(202);
    const second = await operate(m.id, 'START');
    expect(second.status).toBe(409);
    expect(second.body.error_code).toBe(11);
    expect(await entriesOf(m.id)).toHaveLength(1);
    await finalEntry(first.headers.get('location') as string);
    // Finished: the machine is RUNNING now (even before the machines service applies it), so STOP is next.
    const stop = await operate(m.id, 'STOP');
    expect(stop.status).toBe(202);
    await finalEntry(stop.headers.get('location') as string);
  });

  it('two racing POSTs: exactly one 202', async () => {
    // A machine that answers at once: the first command may finish while the others are checked.
    for (let round = 0; round < 6; round++) {
      const m = machine({ endpoint: 'sim://fast?latency_ms=0' });
      const replies = await Promise.all(Array.from({ length: 8 }, () => operate(m.id, 'START')));
      const statuses = replies.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 202)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(7);
      // The others were refused while it was pending (nothing recorded), or after it had
      // finished, for the state it left (INVALIDCOMMAND).
      const rows = await entriesOf(m.id);
      expect(rows.filter((r) => r.result !== 7)).toHaveLength(1);
      const accepted = replies.find((r) => r.status === 202) as Reply;
      expect(await finalEntry(accepted.headers.get('location') as string)).toMatchObject({ result: 1 });
    }
  });
});

describe('the state the machines service has not applied yet', () => {
  it('a finished command newer than last_operation_id decides the state', async () => {
    const m = machine();
    const start = await operate(m.id, 'START');
    const done = await finalEntry(start.headers.get('location') as string);
    await waitFor(() => m.last_operation_id === done.id);
    // As if the machines service had not applied the result yet:
    m.status = 2;
    m.last_operation_id = null;
    const again = await operate(m.id, 'START');
    expect(again.status).toBe(409);
    const stop = await operate(m.id, 'STOP');
    expect(stop.status).toBe(202);
    const stopped = await finalEntry(stop.headers.get('location') as string);
    await waitFor(() => m.last_operation_id === stopped.id && m.status === 2);
    // Applied, and then the owner set the status by hand: the machine's status wins.
    m.status = 4;
    expect((await operate(m.id, 'START')).status).toBe(409);
    const stopAgain = await operate(m.id, 'STOP');
    expect(stopAgain.status).toBe(202);
    await finalEntry(stopAgain.headers.get('location') as string);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and user; creates nothing new', async () => {
    const m = machine();
    const headers = { 'idempotency-key': 'key-accepted-1' };
    const first = await operate(m.id, 'START', tokens.owner, headers);
    expect(first.status).toBe(202);
    await finalEntry(first.headers.get('location') as string);
    const retry = await operate(m.id, 'start', tokens.owner, headers);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await entriesOf(m.id)).toHaveLength(1);
  });

  it('409 for the same key with another command or machine', async () => {
    const m = machine();
    const headers = { 'idempotency-key': 'key-mismatch' };
    const first = await operate(m.id, 'START', tokens.owner, headers);
    expect(first.status).toBe(202);
    const other = await operate(m.id, 'STOP', tokens.owner, headers);
    expect(other.status).toBe(409);
    const otherMachine = await operate(machine().id, 'START', tokens.owner, headers);
    expect(otherMachine.status).toBe(409);
    await finalEntry(first.headers.get('location') as string);
  });

  it('keys are per user, and refusals are replayed too', async () => {
    const m = machine();
    const headers = { 'idempotency-key': 'shared-key' };
    const denied = await operate(m.id, 'START', tokens.other, headers);
    expect(denied.status).toBe(403);
    const deniedAgain = await operate(m.id, 'START', tokens.other, headers);
    expect(deniedAgain.status).toBe(403);
    expect(deniedAgain.body).toEqual(denied.body);
    expect(deniedAgain.headers.get('idempotent-replayed')).toBe('true');
    const owners = await operate(m.id, 'START', tokens.owner, headers);
    expect(owners.status).toBe(202);
    expect((await entriesOf(m.id)).map((e) => e.worker)).toEqual([OTHER, OWNER]);
    await finalEntry(owners.headers.get('location') as string);
  });

  it('concurrent retries with one key get one command and the same response', async () => {
    const m = machine();
    const headers = { 'idempotency-key': 'key-concurrent' };
    const replies = await Promise.all(Array.from({ length: 6 }, () => operate(m.id, 'START', tokens.owner, headers)));
    expect(new Set(replies.map((r) => r.status))).toEqual(new Set([202]));
    expect(new Set(replies.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(await entriesOf(m.id)).toHaveLength(1);
    await finalEntry(replies[0]?.headers.get('location') as string);
  });

  it('a replay answers in the language of the request that replays it, with the same decision', async () => {
    const en = { 'accept-language': 'en' };
    const ko = { 'accept-language': 'ko-KR,ko;q=0.9' };

    // Refused for the caller: 403 in Korean first, in English for the retry.
    const m = machine();
    const denied = await operate(m.id, 'START', tokens.other, { 'idempotency-key': 'key-language-denied', ...ko });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ status: 0, message: '이 작업을 수행할 권한(permission)이 없습니다.', error_code: 4 });
    const deniedAgain = await operate(m.id, 'START', tokens.other, { 'idempotency-key': 'key-language-denied', ...en });
    expect(deniedAgain.status).toBe(403);
    expect(deniedAgain.body).toEqual({
      status: 0,
      message: 'You do not have permission to perform this action.',
      error_code: 4,
    });
    expect(deniedAgain.headers.get('idempotent-replayed')).toBe('true');

    // Refused for the machine's state: 409 in English first, in Korean for the retry.
    const running = machine({ status: 4 });
    const invalid = await operate(running.id, 'START', tokens.owner, {
      'idempotency-key': 'key-language-state',
      ...en,
    });
    expect(invalid.status).toBe(409);
    expect(invalid.body).toEqual({
      status: 0,
      message: 'The request conflicts with the current state of the resource.',
      error_code: 11,
    });
    const invalidAgain = await operate(running.id, 'START', tokens.owner, {
      'idempotency-key': 'key-language-state',
      ...ko,
    });
    expect(invalidAgain.status).toBe(409);
    expect(invalidAgain.body).toEqual({
      status: 0,
      message: '요청이 리소스의 현재 상태와 충돌합니다.',
      error_code: 11,
    });
    expect(invalidAgain.headers.get('idempotent-replayed')).toBe('true');

    // Accepted: the entry as it was accepted, whatever the language.
    const accepted = await operate(m.id, 'START', tokens.owner, { 'idempotency-key': 'key-language-accepted', ...ko });
    expect(accepted.status).toBe(202);
    await finalEntry(accepted.headers.get('location') as string);
    const acceptedAgain = await operate(m.id, 'START', tokens.owner, {
      'idempotency-key': 'key-language-accepted',
      ...en,
    });
    expect(acceptedAgain.status).toBe(202);
    expect(acceptedAgain.body).toEqual(accepted.body);
    expect(acceptedAgain.body.result.result).toBe(4);
    expect(acceptedAgain.headers.get('location')).toBe(accepted.headers.get('location'));
    expect(acceptedAgain.headers.get('idempotent-replayed')).toBe('true');

    // What the keys keep is the decision, not a rendered response.
    const kept = await query<{ key: string; decision: unknown; response: string | null }>(
      env.DATABASE_URL,
      "select key, decision, response from operations.idempotency_key where key like 'key-language-%' order by key",
    );
    const [acceptedEntry] = await entriesOf(m.id).then((rows) => rows.filter((e) => e.worker === OWNER));
    expect(kept).toEqual([
      {
        key: 'key-language-accepted',
        decision: {
          kind: 'accepted',
          entry: {
            id: acceptedEntry?.id,
            requestDatetime: accepted.body.result.request_datetime,
            command: 'START',
            worker: OWNER,
            machineId: m.id,
            machineOwnerId: OWNER,
            result: 4,
            createdAt: accepted.body.result.created_at,
            finishedAt: null,
            message: null,
          },
        },
        response: null,
      },
      {
        key: 'key-language-denied',
        decision: { kind: 'refused', result: 5, command: 'START', machineId: m.id, entryId: expect.any(Number) },
        response: null,
      },
      {
        key: 'key-language-state',
        decision: { kind: 'refused', result: 7, command: 'START', machineId: running.id, entryId: expect.any(Number) },
        response: null,
      },
    ]);

    // Each request recorded once: the retries recorded nothing.
    expect((await entriesOf(m.id)).map((e) => [e.worker, e.result])).toEqual([
      [OTHER, 5],
      [OWNER, 1],
    ]);
    expect((await entriesOf(running.id)).map((e) => e.result)).toEqual([7]);
  });

  it('a key kept as a rendered response (before migration 0006) still replays', async () => {
    // Rows exactly as the version before wrote them: the first response's status, body and Location.
    const keep = (userId: number, key: string, fingerprint: string, response: object) =>
      query(
        env.DATABASE_URL,
        `insert into operations.idempotency_key (user_id, key, fingerprint, response, created_at)
         values ($1, $2, $3, $4, now())`,
        [userId, key, fingerprint, JSON.stringify(response)],
      );
    const m = machine();
    const first = await operate(m.id, 'START');
    expect(first.status).toBe(202);
    await finalEntry(first.headers.get('location') as string);
    await keep(OWNER, 'legacy-accepted', `${m.id}:START`, {
      status: 202,
      body: first.body,
      location: first.headers.get('location'),
    });
    await keep(OTHER, 'legacy-denied', `${m.id}:STOP`, {
      status: 403,
      body: { status: 0, message: '이 작업을 수행할 권한(permission)이 없습니다.', error_code: 4 },
    });
    await keep(OWNER, 'legacy-state', `${m.id}:STOP`, {
      status: 409,
      body: { status: 0, message: 'The request conflicts with the current state of the resource.', error_code: 11 },
    });

    const accepted = await operate(m.id, 'START', tokens.owner, { 'idempotency-key': 'legacy-accepted' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual(first.body);
    expect(accepted.headers.get('location')).toBe(first.headers.get('location'));
    expect(accepted.headers.get('idempotent-replayed')).toBe('true');

    const denied = await operate(m.id, 'STOP', tokens.other, { 'idempotency-key': 'legacy-denied' });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({
      status: 0,
      message: 'You do not have permission to perform this action.',
      error_code: 4,
    });
    expect(denied.headers.get('idempotent-replayed')).toBe('true');

    const state = await operate(m.id, 'STOP', tokens.owner, {
      'idempotency-key': 'legacy-state',
      'accept-language': 'ko',
    });
    expect(state.status).toBe(409);
    expect(state.body).toEqual({ status: 0, message: '요청이 리소스의 현재 상태와 충돌합니다.', error_code: 11 });
    expect(state.headers.get('idempotent-replayed')).toBe('true');

    // The fingerprint still guards an old key: another command with it is a conflict, not a replay.
    const other = await operate(m.id, 'STOP', tokens.owner, { 'idempotency-key': 'legacy-accepted' });
    expect(other.status).toBe(409);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(await entriesOf(m.id)).toHaveLength(1);
  });

  it('400 for a key that is not printable or too long', async () => {
    const m = machine();
    expect((await operate(m.id, 'START', tokens.owner, { 'idempotency-key': 'x'.repeat(256) })).status).toBe(400);
    expect(await entriesOf(m.id)).toEqual([]);
  });
});

describe('history', () => {
  // Users of their own, so the lists hold exactly what this block made.
  const alice = 201;
  const bob = 202;
  const t = { alice: '', bob: '' };
  const made: { id: number; machine: number; command: string; result: number; worker: number }[] = [];
  let aliceMachine: number;
  let bobMachine: number;

  beforeAll(async () => {
    t.alice = issuer.token({ id: alice });
    t.bob = issuer.token({ id: bob });
    aliceMachine = standIn.add({ id: nextMachineId++, owner_id: alice }).id;
    bobMachine = standIn.add({ id: nextMachineId++, owner_id: bob }).id;
    // alice: START ok, STOP ok, STOP refused (READY); bob tries alice's machine; alice tries bob's.
    const steps: [number, string, string][] = [
      [aliceMachine, 'START', t.alice],
      [aliceMachine, 'STOP', t.alice],
      [aliceMachine, 'STOP', t.alice],
      [aliceMachine, 'START', t.bob],
      [bobMachine, 'START', t.alice],
      [bobMachine, 'START', t.bob],
    ];
    for (const [machineId, command, token] of steps) {
      const reply = await operate(machineId, command, token);
      if (reply.status === 202) await finalEntry(reply.headers.get('location') as string, token);
    }
    const rows = await query<{ id: number; machine_id: number; command: string; result: number; worker: number }>(
      env.DATABASE_URL,
      'select id, machine_id, command, result, worker from operations.operation where machine_id = any($1) order by id',
      [[aliceMachine, bobMachine]],
    );
    made.push(
      ...rows.map((r) => ({ id: r.id, machine: r.machine_id, command: r.command, result: r.result, worker: r.worker })),
    );
    expect(made.map((e) => e.result)).toEqual([1, 1, 7, 5, 5, 1]);
  });

  /** alice asked for it or owns the machine: everything but bob's own command on his machine. */
  const alices = (e: (typeof made)[number]) => e.worker === alice || e.machine === aliceMachine;
  const ids = (reply: Reply) => reply.body.result.results.map((e: { id: number }) => e.id);
  const idsWhere = (keep: (e: (typeof made)[number]) => boolean) =>
    made
      .filter(keep)
      .map((e) => e.id)
      .reverse();

  it('lists what the caller asked for or owns, newest first, with the alias path', async () => {
    const mine = await call('GET', '/api/machines/history/', { token: t.alice });
    expect(mine.status).toBe(200);
    expect(mine.body.result).toMatchObject({ count: 5, next: null, previous: null });
    expect(ids(mine)).toEqual(idsWhere(alices));
    const alias = await call('GET', '/api/user/machines/history', { token: t.alice });
    expect(alias.body).toEqual(mine.body);
    const bobs = await call('GET', '/api/machines/history/', { token: t.bob });
    // bob: his own machine's entries, his attempt on alice's machine.
    expect(ids(bobs)).toEqual(idsWhere((e) => e.machine === bobMachine || e.worker === bob));
    const entry = mine.body.result.results[0];
    expect(Object.keys(entry).sort()).toEqual(
      [
        'command',
        'created_at',
        'finished_at',
        'id',
        'machine_id',
        'machine_owner_id',
        'message',
        'request_datetime',
        'result',
        'worker',
      ].sort(),
    );
  });

  it('filters by machine_id, command, result, since and until', async () => {
    const get = (q: string) => call('GET', `/api/machines/history/?${q}`, { token: t.alice });
    expect(ids(await get(`machine_id=${bobMachine}`))).toEqual(idsWhere((e) => alices(e) && e.machine === bobMachine));
    expect(ids(await get('command=stop'))).toEqual(idsWhere((e) => alices(e) && e.command === 'STOP'));
    expect(ids(await get('result=5'))).toEqual(idsWhere((e) => alices(e) && e.result === 5));
    expect(ids(await get('result=1&command=START'))).toEqual(
      idsWhere((e) => alices(e) && e.result === 1 && e.command === 'START'),
    );
    const all = (await get('')).body.result.results as { id: number; request_datetime: string }[];
    const pivot = all[2] as { id: number; request_datetime: string };
    const since = await get(`since=${encodeURIComponent(pivot.request_datetime)}`);
    expect(ids(since)).toEqual(all.filter((e) => e.request_datetime >= pivot.request_datetime).map((e) => e.id));
    const until = await get(`until=${encodeURIComponent(pivot.request_datetime)}`);
    expect(ids(until)).toEqual(all.filter((e) => e.request_datetime <= pivot.request_datetime).map((e) => e.id));
    expect(ids(await get('since=2999-01-01'))).toEqual([]);
    for (const bad of ['result=6', 'command=JUMP', 'machine_id=x', 'since=yesterday', 'page_size=abc']) {
      const reply = await get(bad);
      expect(reply.status, bad).toBe(400);
      expect(reply.body.error_code).toBe(2);
    }
  });

  it('paginates like the machines list', async () => {
    const first = await call('GET', '/api/machines/history/?page_size=3', { token: t.alice });
    expect(first.body.result.count).toBe(5);
    expect(first.body.result.results).toHaveLength(3);
    expect(first.body.result.previous).toBeNull();
    const next = new URL(first.body.result.next);
    expect(next.searchParams.get('page')).toBe('2');
    expect(next.searchParams.get('page_size')).toBe('3');
    const second = await call('GET', `${next.pathname}${next.search}`, { token: t.alice });
    expect(second.body.result.results).toHaveLength(2);
    expect(second.body.result.next).toBeNull();
    expect(new URL(second.body.result.previous).searchParams.get('page')).toBeNull();
    expect([...ids(first), ...ids(second)]).toEqual(idsWhere(alices));
    const last = await call('GET', '/api/machines/history/?page_size=3&page=last', { token: t.alice });
    expect(ids(last)).toEqual(ids(second));
    for (const page of ['3', '0', 'abc', '-1']) {
      const reply = await call('GET', `/api/machines/history/?page_size=3&page=${page}`, { token: t.alice });
      expect(reply.status, page).toBe(404);
    }
    const capped = await call('GET', '/api/machines/history/?page_size=1000', { token: t.alice });
    expect(capped.status).toBe(200);
    const empty = await call('GET', '/api/machines/history/', { token: issuer.token({ id: 7777 }) });
    expect(empty.body.result).toEqual({ count: 0, next: null, previous: null, results: [] });
  });

  it("a machine's history: owner and superuser; others 403; unknown 404", async () => {
    const path = `/api/machines/${aliceMachine}/history/`;
    const owner = await call('GET', path, { token: t.alice });
    expect(owner.status).toBe(200);
    expect(ids(owner)).toEqual(idsWhere((e) => e.machine === aliceMachine));
    const admin = await call('GET', path, { token: tokens.admin });
    expect(admin.body).toEqual(owner.body);
    const other = await call('GET', path, { token: t.bob });
    expect(other.status).toBe(403);
    expect(other.body.error_code).toBe(4);
    expect((await call('GET', '/api/machines/888888/history/', { token: tokens.admin })).status).toBe(404);
    const filtered = await call('GET', `${path}?command=STOP&result=7`, { token: t.alice });
    expect(ids(filtered)).toEqual(
      idsWhere((e) => e.machine === aliceMachine && e.command === 'STOP' && e.result === 7),
    );
  });

  it('one entry: the owner, a superuser and whoever asked; others 403; an entry of another machine 404', async () => {
    const bobsAttempt = made.find((e) => e.worker === bob && e.machine === aliceMachine) as (typeof made)[number];
    const path = `/api/machines/${aliceMachine}/history/${bobsAttempt.id}/`;
    expect((await call('GET', path, { token: t.alice })).status).toBe(200);
    expect((await call('GET', path, { token: tokens.admin })).status).toBe(200);
    const asker = await call('GET', path, { token: t.bob });
    expect(asker.status).toBe(200);
    expect(asker.body.result).toMatchObject({ id: bobsAttempt.id, result: 5, worker: bob, machine_owner_id: alice });
    const alicesOwn = made.find((e) => e.worker === alice && e.machine === aliceMachine) as (typeof made)[number];
    const denied = await call('GET', `/api/machines/${aliceMachine}/history/${alicesOwn.id}/`, { token: t.bob });
    expect(denied.status).toBe(403);
    expect(
      (await call('GET', `/api/machines/${bobMachine}/history/${alicesOwn.id}/`, { token: tokens.admin })).status,
    ).toBe(404);
    expect((await call('GET', `/api/machines/${aliceMachine}/history/99999999/`, { token: t.alice })).status).toBe(404);
    expect((await call('GET', `/api/machines/${aliceMachine}/history/x/`, { token: t.alice })).status).toBe(404);
  });

  it('one entry: whoever it involves reads it without the machines service; others wait for its answer', async () => {
    const bobsAttempt = made.find((e) => e.worker === bob && e.machine === aliceMachine) as (typeof made)[number];
    const path = `/api/machines/${aliceMachine}/history/${bobsAttempt.id}/`;
    standIn.setAnswering(false);
    try {
      // A client polling its own command: the entry alone says it may read it.
      expect((await call('GET', path, { token: t.bob })).status).toBe(200);
      expect((await call('GET', path, { token: t.alice })).status).toBe(200);
      // A superuser it does not involve reads it as the machine's current owner allows: not now.
      expect((await call('GET', path, { token: tokens.admin })).status).toBe(503);
    } finally {
      standIn.setAnswering(true);
    }
  });

  it("keeps a deleted machine's history for its recorded owner", async () => {
    const gone = standIn.add({ id: nextMachineId++, owner_id: alice });
    const reply = await operate(gone.id, 'START', t.alice);
    await finalEntry(reply.headers.get('location') as string, t.alice);
    standIn.machines.delete(gone.id);
    const owner = await call('GET', `/api/machines/${gone.id}/history/`, { token: t.alice });
    expect(owner.status).toBe(200);
    expect(owner.body.result.count).toBe(1);
    expect((await call('GET', `/api/machines/${gone.id}/history/`, { token: t.bob })).status).toBe(403);
    expect((await call('GET', reply.headers.get('location') as string, { token: t.alice })).status).toBe(200);
    expect((await operate(gone.id, 'STOP', t.alice)).status).toBe(404);
  });

  it('one entry: a former owner opens the entries their own history still lists (one rule for both)', async () => {
    const sold = standIn.add({ id: nextMachineId++, owner_id: alice });
    // A superuser started it while alice owned it: alice did not ask, she owned the machine.
    const reply = await operate(sold.id, 'START', tokens.admin);
    expect(reply.status).toBe(202);
    const location = reply.headers.get('location') as string;
    await finalEntry(location, tokens.admin);
    sold.owner_id = bob; // the machine changes hands
    const listed = await call('GET', `/api/machines/history/?machine_id=${sold.id}`, { token: t.alice });
    expect(listed.body.result.results.map((e: { id: number }) => e.id)).toEqual([reply.body.result.id]);
    expect((await call('GET', location, { token: t.alice })).status).toBe(200);
    // The machine's whole history follows the machine: its new owner's now, not hers.
    expect((await call('GET', `/api/machines/${sold.id}/history/`, { token: t.alice })).status).toBe(403);
    expect((await call('GET', location, { token: t.bob })).status).toBe(200);
  });
});

describe('authorization matrix', () => {
  type Role = 'anonymous' | 'owner' | 'other' | 'admin';
  const roles: Role[] = ['anonymous', 'owner', 'other', 'admin'];
  const tokenOf = (role: Role) => (role === 'anonymous' ? '' : tokens[role]);

  it('POST operation: 401 / 202 / 403 with an audit entry / 202', async () => {
    const expected: Record<Role, { status: number; recorded: number | null }> = {
      anonymous: { status: 401, recorded: null },
      owner: { status: 202, recorded: 4 },
      other: { status: 403, recorded: 5 },
      admin: { status: 202, recorded: 4 },
    };
    for (const role of roles) {
      const m = machine();
      const reply = await operate(m.id, 'START', tokenOf(role));
      expect(reply.status, role).toBe(expected[role].status);
      const rows = await entriesOf(m.id);
      if (expected[role].recorded === null) expect(rows, role).toEqual([]);
      else
        expect(
          rows.map((r) => (r.result === 1 || r.result === 4 ? 4 : r.result)),
          role,
        ).toEqual([expected[role].recorded]);
      if (reply.status === 202) {
        expect(reply.body.result).toMatchObject({ worker: role === 'admin' ? ADMIN : OWNER, machine_owner_id: OWNER });
        await finalEntry(reply.headers.get('location') as string);
      }
    }
  });

  it('history endpoints: who gets what', async () => {
    const m = machine();
    const reply = await operate(m.id, 'START');
    const entryPath = reply.headers.get('location') as string;
    await finalEntry(entryPath);
    const cases: [string, Record<Role, number>][] = [
      ['/api/machines/history/', { anonymous: 401, owner: 200, other: 200, admin: 200 }],
      ['/api/user/machines/history/', { anonymous: 401, owner: 200, other: 200, admin: 200 }],
      [`/api/machines/${m.id}/history/`, { anonymous: 401, owner: 200, other: 403, admin: 200 }],
      [entryPath, { anonymous: 401, owner: 200, other: 403, admin: 200 }],
    ];
    for (const [path, byRole] of cases) {
      for (const role of roles) {
        const got = await call('GET', path, { token: tokenOf(role) });
        expect(got.status, `${role} GET ${path}`).toBe(byRole[role]);
        expect(got.body.status, `${role} GET ${path}`).toBe(byRole[role] === 200 ? 1 : 0);
      }
    }
    // Reads leave no trace.
    expect(await entriesOf(m.id)).toHaveLength(1);
  });
});

describe('the process', () => {
  it('serves its OpenAPI part, health and readiness', async () => {
    const doc = await call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    const validation = await new Validator().validate(doc.body);
    expect(validation.errors ?? []).toEqual([]);
    expect(
      doc.body.paths['/api/machines/{id}/operation/'].post.requestBody.content['application/json'].schema,
    ).toBeDefined();
    expect(Object.keys(doc.body.paths).sort()).toEqual(
      [
        '/api/machines/history/',
        '/api/machines/{id}/history/',
        '/api/machines/{id}/history/{entryId}/',
        '/api/machines/{id}/operation/',
        '/api/user/machines/history/',
      ].sort(),
    );
    expect((await call('GET', '/healthz')).status).toBe(200);
    const ready = await call('GET', '/readyz');
    expect(ready.body).toEqual({ status: 1, result: { database: 'ok', redis: 'ok', nats: 'ok' } });
    const workerReady = await fetch(`http://127.0.0.1:${worker.port}/readyz`);
    expect(await workerReady.json()).toEqual({ status: 1, result: { database: 'ok', redis: 'ok', nats: 'ok' } });
    expect((await call('GET', '/api/nothing-here')).status).toBe(404);
  });
});
