import type { ImportedHistoryEntry } from '@imm/contracts';
import { describe, expect, it } from 'vitest';
import {
  type HistoryImportStore,
  type HistoryImportTransaction,
  importHistory,
  planHistoryImport,
} from '../src/domain/import-history';

/** The history import's rules (the entry point itself runs in the end-to-end import test). */
const entry = (id: number): ImportedHistoryEntry => ({
  id,
  request_datetime: '2026-03-01T00:00:00.000Z',
  command: 'START',
  worker: 10,
  machine_id: 1,
  machine_owner_id: 10,
  result: 4,
  created_at: '2026-03-01T00:00:00.000Z',
});

describe('planHistoryImport', () => {
  it('writes new ids, leaves imported ones, and stops at an id one of our commands has', () => {
    const plan = planHistoryImport([entry(3), entry(1), entry(2), entry(2)], {
      takenIds: new Set([3]),
      importedIds: new Set([1]),
    });
    expect(plan.reply).toEqual({
      imported: [2],
      present: [1],
      skipped: [],
      conflicts: ['two history entries have the id 2', 'history id 3 is taken by one of our commands'],
    });
  });
});

describe('importHistory', () => {
  function recordingStore(held: { takenIds: Set<number>; importedIds: Set<number> }) {
    const calls: string[] = [];
    const tx: HistoryImportTransaction = {
      held: async () => held,
      insertEntries: async (rows) => void calls.push(`insert ${rows.map((r) => r.id).join(',')}`),
      continueIds: async () => void calls.push('continue ids'),
      recordImported: (_run, ids) => void calls.push(`summary ${ids.join(',')}`),
    };
    const store: HistoryImportStore = { transaction: (work) => work(tx) };
    return { store, calls };
  }

  it('writes nothing on a check, on a conflict, or when everything is there', async () => {
    for (const [held, apply] of [
      [{ takenIds: new Set<number>(), importedIds: new Set<number>() }, false],
      [{ takenIds: new Set([2]), importedIds: new Set<number>() }, true],
      [{ takenIds: new Set<number>(), importedIds: new Set([1, 2]) }, true],
    ] as const) {
      const { store, calls } = recordingStore(held);
      await importHistory(store, { runId: 'run', entries: [entry(1), entry(2)], apply });
      expect(calls).toEqual([]);
    }
  });

  it('writes the entries, continues the ids and records one summary', async () => {
    const { store, calls } = recordingStore({ takenIds: new Set(), importedIds: new Set([1]) });
    const reply = await importHistory(store, { runId: 'run', entries: [entry(1), entry(2), entry(5)], apply: true });
    expect(reply.imported).toEqual([2, 5]);
    expect(calls).toEqual(['insert 2,5', 'continue ids', 'summary 2,5']);
  });
});
