import { randomUUID } from 'node:crypto';
import { putTransfer, request } from '@imm/bus';
import { decodeImportReply, type ImportedMachine } from '@imm/contracts';
import { query } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, startHarness } from './harness';

/**
 * The machines service's import entry point (`machines.import.machines`), as the Django import tool
 * uses it: a part in the transfer store, checked or written in one transaction, publishing one
 * summary instead of a `created` per machine.
 */
let harness: Harness;
const owner = { id: 10, username: 'kim' };

const machine = (id: number, extra: Partial<ImportedMachine> = {}): ImportedMachine => ({
  id,
  name: `press-${id}`,
  location: 'hall A',
  status: 2,
  owner_id: owner.id,
  endpoint: null,
  created_at: '2025-06-01T00:00:00.000Z',
  updated_at: '2025-06-02T00:00:00.000Z',
  last_operation_id: null,
  ...extra,
});

async function importMachines(machines: ImportedMachine[], apply: boolean) {
  const runId = randomUUID();
  const part = `test.${runId}.machines`;
  await putTransfer(harness.bus, part, { machines });
  return decodeImportReply(await request(harness.bus, 'machines.import.machines', { run_id: runId, part, apply }));
}

// Connections of their own, closed after each statement (the harness's pool races its database drop).
const sql = <T = Record<string, unknown>>(text: string) => query<T>(harness.databaseUrl, text);
const count = async () => (await sql<{ n: number }>('select count(*)::int as n from machines.machine'))[0]?.n;
const outbox = () =>
  sql<{ type: string; data: Record<string, unknown> }>(
    "select payload->>'type' as type, payload->'data' as data from machines.outbox_message order by seq",
  );
const eventTypes = async () => (await outbox()).map((e) => e.type);

beforeAll(async () => {
  harness = await startHarness('machines_import');
});
afterAll(async () => {
  await harness?.close();
});

describe('machines.import.machines', () => {
  it('a check writes nothing', async () => {
    const reply = await importMachines([machine(3), machine(5)], false);
    expect(reply).toEqual({ imported: [3, 5], present: [], skipped: [], conflicts: [] });
    expect(await count()).toBe(0);
  });

  it('writes the machines with their ids, one summary event and no created events', async () => {
    const reply = await importMachines(
      [machine(3, { status: 4, last_operation_id: 17 }), machine(5, { endpoint: 'http://10.0.0.5/imm' })],
      true,
    );
    expect(reply).toEqual({ imported: [3, 5], present: [], skipped: [], conflicts: [] });
    const rows = await sql(
      'select id, status, owner_id, endpoint, last_operation_id from machines.machine order by id',
    );
    expect(rows).toEqual([
      { id: 3, status: 4, owner_id: 10, endpoint: null, last_operation_id: '17' },
      { id: 5, status: 2, owner_id: 10, endpoint: 'http://10.0.0.5/imm', last_operation_id: null },
    ]);
    expect(await eventTypes()).toEqual(['machines.machines.imported']);
    const [summary] = await outbox();
    expect(summary?.data).toMatchObject({ imported: 2, first_id: 3, last_id: 5 });
    // The exact count behind unfiltered pages follows the imported rows too.
    const page = await call(harness.base, 'GET', '/api/machines/', { token: harness.issuer.token(owner) });
    expect(page.body.result.count).toBe(2);
  });

  it('new machines get ids after the imported ones; a second run changes nothing, even after a rename', async () => {
    const token = harness.issuer.token(owner);
    const created = await call(harness.base, 'POST', '/api/machines/', {
      token,
      body: { name: 'new', location: 'hall B' },
    });
    expect(created.body.result.id).toBe(6);
    expect((await call(harness.base, 'PATCH', '/api/machines/3/', { token, body: { name: 'renamed' } })).status).toBe(
      200,
    );
    const before = await eventTypes();
    const again = await importMachines([machine(3), machine(5)], true);
    expect(again).toEqual({ imported: [], present: [3, 5], skipped: [], conflicts: [] });
    expect(await eventTypes()).toEqual(before);
  });

  it('an id one of our machines has is a conflict: nothing of the part is written', async () => {
    const reply = await importMachines([machine(6), machine(9)], true);
    expect(reply.conflicts).toEqual(['machine id 6 (press-6) is taken by one of ours']);
    expect(reply.imported).toEqual([9]);
    expect(await count()).toBe(3);
  });
});
