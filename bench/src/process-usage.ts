/**
 * Resident memory of the measured processes, from /proc (Linux). A started system's processes are
 * named by the port each one listens on, so any start command works (tsx or compiled JavaScript);
 * the supervisor and anything else in its process group are listed by their command.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { type ProcessName, processes } from '../../processes';

export interface ProcessMemory {
  name: string;
  pid: number;
  /** VmRSS: resident now, MB. */
  rssMb: number;
  /** VmHWM: the most it was ever resident, MB. */
  peakMb: number;
}

const pids = (): number[] =>
  readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process is gone
  }
}

const commandLine = (pid: number) => (read(`/proc/${pid}/cmdline`) ?? '').split('\0').join(' ').trim();

/** Parent pid and process group, from /proc/<pid>/stat. */
function statOf(pid: number): { ppid: number; group: number } | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), group: Number(fields[2]) };
}

function memoryOf(pid: number): { rssMb: number; peakMb: number } | undefined {
  const status = read(`/proc/${pid}/status`);
  if (!status) return undefined;
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb('VmRSS') / 102.4) / 10, peakMb: Math.round(kb('VmHWM') / 102.4) / 10 };
}

/**
 * A socket table in large reads: the kernel generates it as it is read, and with many connections
 * opening and closing, small reads can skip lines between two of them.
 */
function readSocketTable(path: string): string {
  const buffer = Buffer.alloc(8 * 2 ** 20);
  const parts: string[] = [];
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) parts.push(buffer.toString('utf8', 0, n));
  } finally {
    closeSync(fd);
  }
  return parts.join('');
}

/** Inodes of the sockets listening on each port (IPv4 and IPv6). */
function listeningInodes(ports: number[]): Map<string, number> {
  const inodes = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readSocketTable(table).split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      const [, local, , state] = columns;
      if (state !== '0A' || !local) continue; // 0A: LISTEN
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (ports.includes(port) && columns[9]) inodes.set(columns[9], port);
    }
  }
  return inodes;
}

function listensOn(pid: number, inodes: Map<string, number>): number | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      const port = inode ? inodes.get(inode) : undefined;
      if (port !== undefined) return port;
    } catch {
      // closed meanwhile
    }
  }
  return undefined;
}

const isShell = (command: string) => /^(\/bin\/|\/usr\/bin\/)?(ba|da)?sh /.test(command);

/**
 * Every process of a started system (one process group), named after the port it listens on; the
 * nearest process above the services that is not a shell is the supervisor (`npm start`'s
 * line-prefixing parent), anything else (tsx's esbuild, npm) is named by its program.
 */
export function systemMemory(processGroup: number, ports: Record<ProcessName, number>): ProcessMemory[] {
  const byPort = new Map(Object.entries(ports).map(([name, port]) => [port, name]));
  const inodes = listeningInodes([...byPort.keys()]);
  const members = new Map<number, { ppid: number; command: string }>();
  for (const pid of pids()) {
    const stat = statOf(pid);
    if (stat?.group === processGroup) members.set(pid, { ppid: stat.ppid, command: commandLine(pid) });
  }
  const found: (ProcessMemory & { service: boolean })[] = [];
  for (const [pid, { command }] of members) {
    const memory = memoryOf(pid);
    if (!memory) continue;
    const port = listensOn(pid, inodes);
    // The shells that the start command and the supervisor run each process through.
    if (port === undefined && isShell(command)) continue;
    const known = port !== undefined ? (byPort.get(port) as string) : byEntry(command);
    const program = command.split(' ')[0]?.split('/').at(-1) ?? command;
    found.push({ name: known ?? program, pid, ...memory, service: known !== undefined });
  }
  const service = found.find((p) => p.service);
  let above = service ? members.get(service.pid)?.ppid : undefined;
  while (above !== undefined && members.has(above) && isShell(members.get(above)?.command ?? '')) {
    above = members.get(above)?.ppid;
  }
  const supervisor = found.find((p) => p.pid === above && !p.service);
  if (supervisor) supervisor.name = 'supervisor';
  return sortByName(found.map(({ service: _service, ...memory }) => memory));
}

/** The process whose entry point (source or compiled) is on the command line, for one whose socket was not seen. */
function byEntry(command: string): ProcessName | undefined {
  const args = command.split(' ');
  return processes.find((p) => args.some((arg) => arg.endsWith(p.entry) || arg.endsWith(p.compiled)))?.name;
}

/** Processes of a server the harness did not start, found by substrings of their command lines. */
export function matchingMemory(patterns: string[]): ProcessMemory[] {
  const found: ProcessMemory[] = [];
  if (patterns.length === 0) return found;
  // The harness and the npm, shell and tsx processes above it have the patterns in their arguments.
  const own = new Set<number>();
  for (let pid: number | undefined = process.pid; pid && pid > 1 && !own.has(pid); pid = statOf(pid)?.ppid) {
    own.add(pid);
  }
  for (const pid of pids()) {
    if (own.has(pid)) continue;
    const command = commandLine(pid);
    const pattern = patterns.find((p) => command.includes(p));
    const memory = pattern ? memoryOf(pid) : undefined;
    if (pattern && memory) found.push({ name: pattern, pid, ...memory });
  }
  return sortByName(found);
}

/** As a request meets them: the gateway, then the services, then the supervisor. */
export const processOrder = [
  'gateway',
  ...processes.map((p) => p.name).filter((name) => name !== 'gateway'),
  'supervisor',
];
const order = processOrder;
const sortByName = (list: ProcessMemory[]) =>
  list.sort((a, b) => {
    const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
    return rank(a.name) - rank(b.name) || a.name.localeCompare(b.name) || a.pid - b.pid;
  });

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux builds in use). */
const TICKS_PER_SECOND = 100;

function cpuSecondsOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds the whole machine spent busy (all cores, everything but idle and I/O wait). */
function machineBusySeconds(): number {
  const fields = (read('/proc/stat') ?? '').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/**
 * CPU used by each measured process (summed by name), by the harness itself (the load generator)
 * and by everything else on the machine (`others`: other users' work, the databases) over one
 * run, in cores: 1 means one core busy for the whole run.
 */
export function startCpuMeter(processes: readonly { name: string; pid: number }[]): () => Record<string, number> {
  const began = performance.now();
  const harnessBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  const before = new Map(processes.map((p) => [p.pid, cpuSecondsOf(p.pid) ?? 0]));
  return () => {
    const wall = (performance.now() - began) / 1000;
    const used: Record<string, number> = {};
    for (const { name, pid } of processes) {
      const now = cpuSecondsOf(pid);
      if (now !== undefined) used[name] = (used[name] ?? 0) + (now - (before.get(pid) ?? now));
    }
    const harness = process.cpuUsage(harnessBefore);
    used.harness = (harness.user + harness.system) / 1e6;
    const measured = Object.values(used).reduce((sum, seconds) => sum + seconds, 0);
    used.others = Math.max(0, machineBusySeconds() - machineBefore - measured);
    return Object.fromEntries(
      Object.entries(used).map(([name, seconds]) => [name, Math.round((seconds / wall) * 100) / 100]),
    );
  };
}

/**
 * The Postgres backends serving one database (their process titles name it), so the database's
 * share of a run's CPU is seen apart from the rest of the machine. Listed at the start of a run:
 * pools keep their connections, so that is nearly all of them.
 */
export function databaseBackends(database: string): { name: string; pid: number }[] {
  const found: { name: string; pid: number }[] = [];
  for (const pid of pids()) {
    const command = commandLine(pid);
    if (/^postgres: /.test(command) && command.split(' ').includes(database)) found.push({ name: 'postgres', pid });
  }
  return found;
}
