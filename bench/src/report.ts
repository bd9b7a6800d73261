/** Plain-text tables of one result, and of two side by side with ratios. */
import type { LoadResult } from './load';
import { type ProcessMemory, processOrder } from './process-usage';
import type { BenchResult, LoadRow } from './result';
import type { LatencySummary } from './stats';

// null: a figure that was NaN when written (JSON has no NaN), e.g. a percentile of no responses.
type Cell = string | number | null | undefined;

/** A table with the first column left-aligned and the others right-aligned. */
export function table(header: string[], rows: Cell[][]): string {
  const text = (cell: Cell) =>
    cell === undefined || cell === null ? '–' : typeof cell === 'number' ? format(cell) : cell;
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

const times = (ratio: number) => `${ratio.toFixed(2)}x`;

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

  const cpuRows: [string, Record<string, number>][] = result.load.flatMap((row) =>
    row.cpu ? [[`${row.endpoint} (${row.via})`, row.cpu] as [string, Record<string, number>]] : [],
  );
  if (result.commands.sustained?.cpu) cpuRows.push(['commands sustained', result.commands.sustained.cpu]);
  if (cpuRows.some(([, cpu]) => Object.keys(cpu).length > 1)) {
    const names = [...new Set(cpuRows.flatMap(([, cpu]) => Object.keys(cpu)))].sort(
      (x, y) => rank(x) - rank(y) || x.localeCompare(y),
    );
    sections.push(
      `CPU during each run (cores busy, of ${host.cores}; postgres: this run's database backends; harness: the load generator; others: the rest of the machine, Redis and NATS included)\n` +
        table(
          ['run', ...names],
          cpuRows.map(([name, cpu]) => [name, ...names.map((n) => cpu[n])]),
        ),
    );
  }

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
              return [name, ...p50s, low && high ? times(high / low) : undefined];
            }),
          ),
      );
    }
  }
  return sections.join('\n\n');
}

/** The system's processes in the order a request meets them, then the harness and the rest of the machine. */
const columnOrder = [...processOrder, 'postgres'];
const rank = (name: string) => {
  if (name === 'others') return columnOrder.length + 2;
  if (name === 'harness') return columnOrder.length + 1;
  return columnOrder.includes(name) ? columnOrder.indexOf(name) : columnOrder.length;
};

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

/** The average CPU (cores) the rest of the machine used during the load runs: is the run clean? */
function othersOf(result: BenchResult): string {
  const others = result.load.flatMap((row) => (row.cpu?.others === undefined ? [] : [row.cpu.others]));
  return others.length > 0 ? (others.reduce((sum, v) => sum + v, 0) / others.length).toFixed(2) : '?';
}

/**
 * Two results side by side. Ratios are written so that > 1 means B is better: B÷A for requests per
 * second and commands per second, A÷B for latency.
 */
export function formatComparison(a: BenchResult, b: BenchResult): string {
  const sections: string[] = [
    `A: ${a.label} (${a.target}, commit ${a.host.git.commit.slice(0, 10)}, ${a.startedAt})\n` +
      `B: ${b.label} (${b.target}, commit ${b.host.git.commit.slice(0, 10)}, ${b.startedAt})\n` +
      'ratios > 1: B is better (B÷A for req/s, A÷B for latency)' +
      `\nthe rest of the machine used on average A ${othersOf(a)}, B ${othersOf(b)} of ${b.host.cores} cores during the runs`,
  ];
  const ratio = (x: number | null | undefined, y: number | null | undefined) =>
    typeof x === 'number' && typeof y === 'number' && Number.isFinite(x) && Number.isFinite(y) && y > 0
      ? times(x / y)
      : undefined;
  const line = (name: string, ra?: number, rb?: number, la?: LatencySummary, lb?: LatencySummary): Cell[] => [
    name,
    ra,
    rb,
    ratio(rb, ra),
    la?.p50,
    lb?.p50,
    ratio(la?.p50, lb?.p50),
    la?.p99,
    lb?.p99,
    ratio(la?.p99, lb?.p99),
  ];
  // Direct-to-service rows only where both have them (a server given by URL has none).
  const keyOf = (row: LoadRow) => `${row.endpoint}|${row.via}`;
  const inBoth = (row: LoadRow) => [a, b].every((result) => result.load.some((r) => keyOf(r) === keyOf(row)));
  const keys = [...new Set([...b.load, ...a.load].filter((row) => row.via === 'gateway' || inBoth(row)).map(keyOf))];
  const rows: Cell[][] = keys.map((key) => {
    const [ra, rb] = [a, b].map((result) => result.load.find((row) => `${row.endpoint}|${row.via}` === key)?.result);
    const [endpoint, via] = key.split('|');
    return line(
      via === 'gateway' ? (endpoint as string) : `${endpoint} (${via} direct)`,
      ra?.rps,
      rb?.rps,
      ra?.latency,
      rb?.latency,
    );
  });
  rows.push(
    line(
      'commands one at a time',
      undefined,
      undefined,
      a.commands.sequential?.latency,
      b.commands.sequential?.latency,
    ),
  );
  rows.push(
    line(
      'commands sustained (finished/s)',
      a.commands.sustained?.perSecond,
      b.commands.sustained?.perSecond,
      a.commands.sustained?.latency,
      b.commands.sustained?.latency,
    ),
  );
  sections.push(
    table(['request', 'req/s A', 'req/s B', 'B÷A', 'p50 A', 'p50 B', 'A÷B', 'p99 A', 'p99 B', 'A÷B'], rows),
  );

  if (a.growth && b.growth) {
    const growthRows: Cell[][] = [];
    for (const kind of ['machines', 'history'] as const) {
      for (const step of b.growth[kind]) {
        const other = a.growth[kind].find((s) => s.size === step.size);
        for (const c of step.cases) {
          const o = other?.cases.find((x) => x.name === c.name);
          growthRows.push([
            `${kind} ${step.size}: ${c.name}`,
            o?.result.latency.p50,
            c.result.latency.p50,
            ratio(o?.result.latency.p50, c.result.latency.p50),
          ]);
        }
      }
    }
    sections.push(`Growth (p50 ms)\n${table(['case', 'A', 'B', 'A÷B'], growthRows)}`);
  }

  const total = (list: ProcessMemory[]) => Math.round(list.reduce((sum, p) => sum + p.rssMb, 0));
  const largest = (list: ProcessMemory[]) => Math.max(0, ...list.map((p) => p.peakMb));
  if (a.memory.after.length > 0 || b.memory.after.length > 0) {
    sections.push(
      table(
        ['resident memory (MB)', 'A', 'B'],
        [
          ['all processes, after load', total(a.memory.after), total(b.memory.after)],
          ['largest peak of one process', largest(a.memory.after), largest(b.memory.after)],
        ],
      ),
    );
  }
  return sections.join('\n\n');
}
