/**
 * `npm run import:django -- --from <postgres URL | dumpdata .json | .json.gz>`: moves the older
 * Django service's users, machines and history into the running system. Each service writes its
 * own part; see this package's README.
 */
import { resolve } from 'node:path';
import { type Bus, BusRequestError, BusUnavailableError, connectBus } from '@imm/bus';
import { ConfigError, exitOnConfigError, infrastructureShape, loadConfig } from '@imm/config';
import { createLogger } from '@imm/logging';
import { Command, InvalidArgumentError } from 'commander';
import { readDumpdata } from './adapters/dumpdata-source';
import { readDjangoDatabase } from './adapters/postgres-source';
import { busImportServices } from './adapters/service-parts';
import { SourceError } from './adapters/source-error';
import { isKnownZone } from './domain/convert';
import type { OldData } from './domain/old-rows';
import { formatReport } from './domain/report';
import { runImport } from './domain/run-import';

const CONNECT_TIMEOUT_MS = 10_000;

interface CliOptions {
  from: string;
  dryRun: boolean;
  replaceAdmin: boolean;
  sourceTimezone?: string;
  json: boolean;
}

function zoneArgument(zone: string): string {
  if (!isKnownZone(zone)) throw new InvalidArgumentError(`not a time zone: ${zone} (e.g. Asia/Seoul)`);
  return zone;
}

const isDatabaseUrl = (from: string) => /^postgres(ql)?:\/\//i.test(from);

/** A file is named relative to where `npm run` was typed, not the repository root it runs in. */
const filePath = (from: string) => resolve(process.env.INIT_CWD ?? process.cwd(), from);

async function readSource(from: string): Promise<{ name: string; data: OldData }> {
  if (isDatabaseUrl(from)) {
    const url = new URL(from);
    url.password = url.password ? '***' : '';
    return { name: url.toString(), data: await readDjangoDatabase(from) };
  }
  return { name: from, data: await readDumpdata(filePath(from)) };
}

async function connect(url: string, prefix: string): Promise<Bus> {
  const logger = createLogger('django-import', process.env.LOG_LEVEL ?? 'warn');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SourceError(`cannot reach NATS at ${url}: is the system running?`)),
      CONNECT_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([connectBus({ url, prefix, name: 'django-import', logger }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(options: CliOptions): Promise<number> {
  const config = loadConfig({ NATS_URL: infrastructureShape.NATS_URL, BUS_PREFIX: infrastructureShape.BUS_PREFIX });
  // The whole source is read and checked before anything is sent anywhere.
  const source = await readSource(options.from);
  const bus = await connect(config.NATS_URL, config.BUS_PREFIX);
  try {
    const report = await runImport(
      source,
      { dryRun: options.dryRun, replaceAdmin: options.replaceAdmin, sourceTimezone: options.sourceTimezone },
      busImportServices(bus),
    );
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.ok ? 0 : 1;
  } finally {
    await bus.close();
  }
}

const program = new Command('import:django')
  .description("Moves the Django service's users, machines and history into the running system.")
  .requiredOption('--from <source>', 'postgres://… of the old database, or a dumpdata file (.json or .json.gz)')
  .option('--dry-run', 'check everything and report what would be imported; write nothing', false)
  .option('--replace-admin', "the old service's admin replaces ours, which is otherwise kept", false)
  .option(
    '--source-timezone <zone>',
    'the time zone the old servers ran in (request_datetime is corrected)',
    zoneArgument,
  )
  .option('--json', 'print the report as JSON', false)
  .action(async (options: CliOptions) => {
    // Exits explicitly: a NATS connection still trying to reach its server would keep the process.
    process.exit(await exitCodeOf(options));
  });

async function exitCodeOf(options: CliOptions): Promise<number> {
  try {
    return await main(options);
  } catch (error) {
    if (error instanceof ConfigError) exitOnConfigError(error);
    if (error instanceof SourceError) {
      process.stderr.write(`import:django failed, nothing imported: ${error.message}\n`);
      return 1;
    }
    if (error instanceof BusUnavailableError || error instanceof BusRequestError) {
      // Parts a service wrote before this stay; a second run finds them there and skips them.
      process.stderr.write(`import:django failed: a service did not answer as it should: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

await program.parseAsync(process.argv);
