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

/** The reasons the services and the tool give, as an operator reads them. */
export function explain(reason: string): string {
  const [code, detail] = reason.split(':', 2);
  switch (code) {
    case 'username_taken':
      return 'its username belongs to another of our users';
    case 'email_taken':
      return 'one of our users has this email already (emails are unique ignoring case)';
    case 'admin_kept':
      return 'the old admin: ours is kept (--replace-admin replaces it); its machines and history go to ours';
    case 'owner_not_imported':
      return `its owner (user ${detail}) is not imported`;
    case 'user_not_imported':
      return `its user ${detail} is not imported`;
    case 'machine_not_imported':
      return `its machine ${detail} is not imported`;
    default:
      return reason;
  }
}

function kindLines(title: string, kind: KindReport): string[] {
  const verb = kind.written ? 'imported' : 'to import';
  const lines = [
    `${title}: ${kind.imported.length} ${verb}, ${kind.present.length} already there, ${kind.skipped.length} skipped`,
  ];
  if (kind.imported.length > 0) lines.push(`  ${verb}: ${idRanges(kind.imported)}`);
  for (const skip of kind.skipped) lines.push(`  skipped ${skip.id ?? '(no id)'}: ${explain(skip.reason)}`);
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
