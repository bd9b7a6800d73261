import type { ImportReport, KindReport } from './run-import';

/** `1, 2, 3, 5, 7, 8` → `1–3, 5, 7–8`: a report of thousands of ids stays readable. */
export function idRanges(ids: number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j += 1;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/**
 * The reasons the services and the tool give, as an operator reads them; `details` are the ids a
 * reason names (`owner_not_imported:13`), all the rows' of one line together.
 */
export function explain(code: string, details: number[] = []): string {
  const ids = idRanges(details);
  switch (code) {
    case 'username_taken':
      return 'its username belongs to another of our users';
    case 'email_taken':
      return 'one of our users has this email already (emails are unique ignoring case)';
    case 'admin_kept':
      return 'the old admin: ours is kept (--replace-admin replaces it); its machines and history go to ours';
    case 'owner_not_imported':
      return `its owner is not imported (users ${ids})`;
    case 'user_not_imported':
      return `its user is not imported (users ${ids})`;
    case 'machine_not_imported':
      return `its machine is not imported (machines ${ids})`;
    default:
      return code;
  }
}

/** `owner_not_imported:13` → the code and the id it names; a validation message stays whole. */
function reasonParts(reason: string): { code: string; detail: number | undefined } {
  const match = /^(\w+):(\d+)$/.exec(reason);
  return match ? { code: match[1] as string, detail: Number(match[2]) } : { code: reason, detail: undefined };
}

function kindLines(title: string, kind: KindReport): string[] {
  const verb = kind.written ? 'imported' : 'to import';
  const lines = [
    `${title}: ${kind.imported.length} ${verb}, ${kind.present.length} already there, ${kind.skipped.length} skipped`,
  ];
  if (kind.imported.length > 0) lines.push(`  ${verb}: ${idRanges(kind.imported)}`);
  // One line per reason, with its rows' ids: thousands of history entries share a few reasons.
  const byReason = new Map<string, { ids: number[]; without: number; details: number[] }>();
  for (const skip of kind.skipped) {
    const { code, detail } = reasonParts(skip.reason);
    const group = byReason.get(code) ?? { ids: [], without: 0, details: [] };
    if (skip.id === undefined) group.without += 1;
    else group.ids.push(skip.id);
    if (detail !== undefined) group.details.push(detail);
    byReason.set(code, group);
  }
  for (const [code, group] of byReason) {
    const which = [idRanges(group.ids), group.without > 0 ? `${group.without} without an id` : '']
      .filter(Boolean)
      .join(', ');
    lines.push(`  skipped ${which}: ${explain(code, group.details)}`);
  }
  return lines;
}

/** The report as text, for the operator running the import. */
export function formatReport(report: ImportReport): string {
  const lines = [
    `Django import from ${report.source}${report.dryRun ? ' (dry run: nothing written)' : ''}`,
    ...kindLines('users', report.users),
    ...kindLines('machines', report.machines),
  ];
  if (report.machines.pendingAsError.length > 0) {
    lines.push(`  PENDING in the old service, imported as ERROR: ${idRanges(report.machines.pendingAsError)}`);
  }
  lines.push(...kindLines('history', report.history));
  if (report.history.sourceTimezone) {
    lines.push(
      report.history.shifted.length > 0
        ? `  request_datetime read as ${report.history.sourceTimezone} time, changed: ${idRanges(report.history.shifted)}`
        : `  request_datetime read as ${report.history.sourceTimezone} time: no entry changed`,
    );
  }
  const ignored = Object.entries(report.ignoredModels);
  if (ignored.length > 0)
    lines.push(`ignored (not ours to import): ${ignored.map(([m, n]) => `${m} ×${n}`).join(', ')}`);
  if (!report.ok && report.changed) {
    // A row created here between the check and the writing: what was written stays, and a second
    // run finds it there.
    lines.push(
      'FAILED after writing part of it (see above; a second run skips what is there):',
      ...report.conflicts.map((c) => `  ${c}`),
    );
  } else if (!report.ok) {
    lines.push('FAILED, nothing imported:', ...report.conflicts.map((c) => `  ${c}`));
  } else if (!report.dryRun) {
    lines.push(report.changed ? 'Done.' : 'Nothing changed: everything was imported before.');
  }
  return `${lines.join('\n')}\n`;
}
