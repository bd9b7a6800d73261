/** Plain-text tables of one result, and of two side by side with ratios. */
import type { LoadResult } from './load';
import type { ProcessMemory } from './processes';
import type { BenchResult } from './result';
import type { LatencySummary } from './stats';

type Cell = string | number | undefined;

/** A table with the first column left-aligned and the others right-aligned. */
export function table(header: string[], rows: Cell[][]): string {
  const text = (cell: Cell) => (cell === undefined ? '–' : typeof cell === 'number' ? format(cell) : cell);
  const cells = [header, ...rows.map((row) => row.map(text))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function format(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (Number.isInteger(value)) return String(value);
  return value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
}

const problems = (result: LoadResult) =>
  Object.entries(result.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, count]) => `${count}×${code}`)
    .join(' ');

const latencyCells = (latency: LatencySummary) => [latency.p50, latency.p90, latency.p99];

export function formatResult(result: BenchResult): string {
  const sections: string[] = [];
  const { host } = result;
  sections.push(
    `${result.label}: ${result.target}${result.started ? ` (started: ${result.command})` : ''}\n` +
      `${host.cores} cores, ${host.cpu}, Node ${host.node}, commit ${host.git.commit.slice(0, 10)}${host.git.dirty ? ' (dirty)' : ''}, ` +
      `load average ${host.loadavg.before.join(' ')} → ${host.loadavg.after?.join(' ') ?? '?'}` +
      (Object.keys(result.env).length > 0 ? `\nenv: ${Object.keys(result.env).join(', ')}` : ''),
  );

  const first = result.load[0]?.result;
  sections.push(
    `Load (${first?.connections ?? '?'} connections, ${result.options.duration} s each; latency in ms)\n` +
      table(
        ['endpoint', 'via', 'req/s', 'p50', 'p90', 'p99', 'errors', 'non-2xx'],
        result.load.map(({ endpoint, via, result: r }) => [
          endpoint,
          via,
          r.rps,
          ...latencyCells(r.latency),
          r.errors + r.timeouts,
          r.non2xx > 0 ? `${r.non2xx} (${problems(r)})` : 0,
        ]),
      ),
  );

  const overhead = gatewayOverhead(result);
  if (overhead.length > 0) {
    sections.push(
      'Gateway overhead (gateway vs the service directly, same endpoint)\n' +
        table(['endpoint', 'p50 added', 'throughput lost'], overhead),
    );
  }
  if (result.drains.length > 0) {
    sections.push(`Backlog drained after: ${result.drains.map((d) => `${d.after} ${d.seconds} s`).join(', ')}`);
  }

  const { sequential, sustained } = result.commands;
  const commandRows: Cell[][] = [];
  if (sequential) {
    commandRows.push([
      `one at a time (${sequential.runs} runs)`,
      ...latencyCells(sequential.latency),
      '',
      sequential.failures,
    ]);
  }
  if (sustained) {
    commandRows.push([
      `sustained (${sustained.inFlight} in flight, ${sustained.seconds} s)`,
      ...latencyCells(sustained.latency),
      sustained.perSecond,
      sustained.failures + sustained.refused + sustained.errors,
    ]);
  }
  if (commandRows.length > 0) {
    sections.push(
      'Commands end to end (POST to final result, ms)\n' +
        table(['run', 'p50', 'p90', 'p99', 'finished/s', 'failed'], commandRows),
    );
  }

  if (result.memory.before.length > 0 || result.memory.after.length > 0) {
    sections.push(`Resident memory (MB)\n${memoryTable(result.memory.before, result.memory.after)}`);
  }

  if (result.growth) {
    const { growth } = result;
    for (const [title, steps] of [
      ['machines', growth.machines],
      ['history entries', growth.history],
    ] as const) {
      if (steps.length === 0) continue;
      const names = steps[0]?.cases.map((c) => c.name) ?? [];
      sections.push(
        `Growth: p50 ms by ${title} (${growth.connections} connections, ${growth.seconds} s each; last column: largest ÷ smallest)\n` +
          table(
            ['case', ...steps.map((s) => String(s.size)), 'growth'],
            names.map((name) => {
              const p50s = steps.map((s) => s.cases.find((c) => c.name === name)?.result.latency.p50);
              const [low, high] = [p50s[0], p50s.at(-1)];
              return [name, ...p50s, low && high ? `${format(high / low)}x` : undefined];
            }),
          ),
      );
    }
  }
  return sections.join('\n\n');
}

function gatewayOverhead(result: BenchResult): Cell[][] {
  const rows: Cell[][] = [];
  for (const gateway of result.load.filter((row) => row.via === 'gateway')) {
    const direct = result.load.find((row) => row.endpoint === gateway.endpoint && row.via !== 'gateway');
    if (!direct) continue;
    const added = gateway.result.latency.p50 / direct.result.latency.p50 - 1;
    const lost = 1 - gateway.result.rps / direct.result.rps;
    rows.push([gateway.endpoint, percent(added), percent(lost)]);
  }
  return rows;
}

const percent = (fraction: number) => (Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : undefined);

function memoryTable(before: ProcessMemory[], after: ProcessMemory[]): string {
  const key = (p: ProcessMemory) => `${p.name}#${p.pid}`;
  const keys = [...new Set([...before, ...after].map(key))];
  return table(
    ['process', 'pid', 'before', 'after', 'peak'],
    keys.map((k) => {
      const b = before.find((p) => key(p) === k);
      const a = after.find((p) => key(p) === k);
      return [(a ?? b)?.name, (a ?? b)?.pid, b?.rssMb, a?.rssMb, (a ?? b)?.peakMb];
    }),
  );
}

/** Two results side by side; ratios > 1 mean the second is better (more req/s, less latency). */
export function formatComparison(a: BenchResult, b: BenchResult): string {
  const sections: string[] = [
    `${b.label} vs ${a.label} (ratio > 1: ${b.label} is better)\n` +
      `${a.label}: ${a.target}, commit ${a.host.git.commit.slice(0, 10)}, ${a.startedAt}\n` +
      `${b.label}: ${b.target}, commit ${b.host.git.commit.slice(0, 10)}, ${b.startedAt}`,
  ];
  const ratio = (x: number | undefined, y: number | undefined) =>
    x !== undefined && y !== undefined && y > 0 ? `${format(x / y)}x` : undefined;
  const rows: Cell[][] = [];
  for (const row of b.load) {
    const other = a.load.find((r) => r.endpoint === row.endpoint && r.via === row.via);
    rows.push([
      `${row.endpoint} (${row.via})`,
      other?.result.rps,
      row.result.rps,
      ratio(row.result.rps, other?.result.rps),
      other?.result.latency.p50,
      row.result.latency.p50,
      ratio(other?.result.latency.p50, row.result.latency.p50),
      other?.result.latency.p99,
      row.result.latency.p99,
      ratio(other?.result.latency.p99, row.result.latency.p99),
    ]);
  }
  const commandRow = (name: string, x?: LatencySummary, y?: LatencySummary, xs?: number, ys?: number) =>
    rows.push([
      name,
      xs,
      ys,
      ratio(ys, xs),
      x?.p50,
      y?.p50,
      ratio(x?.p50, y?.p50),
      x?.p99,
      y?.p99,
      ratio(x?.p99, y?.p99),
    ]);
  commandRow('commands one at a time', a.commands.sequential?.latency, b.commands.sequential?.latency);
  commandRow(
    'commands sustained (finished/s)',
    a.commands.sustained?.latency,
    b.commands.sustained?.latency,
    a.commands.sustained?.perSecond,
    b.commands.sustained?.perSecond,
  );
  const [la, lb] = [a.label, b.label];
  sections.push(
    table(
      [
        'request',
        `${la} req/s`,
        `${lb} req/s`,
        'ratio',
        `${la} p50`,
        `${lb} p50`,
        'ratio',
        `${la} p99`,
        `${lb} p99`,
        'ratio',
      ],
      rows,
    ),
  );
  const total = (list: ProcessMemory[]) => list.reduce((sum, p) => sum + p.rssMb, 0);
  const largest = (list: ProcessMemory[]) => Math.max(0, ...list.map((p) => p.rssMb));
  if (a.memory.after.length > 0 || b.memory.after.length > 0) {
    sections.push(
      table(
        ['resident memory after load (MB)', la, lb],
        [
          ['all processes', total(a.memory.after), total(b.memory.after)],
          ['largest process', largest(a.memory.after), largest(b.memory.after)],
        ],
      ),
    );
  }
  return sections.join('\n\n');
}
