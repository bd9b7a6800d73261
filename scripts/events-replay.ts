/**
 * `npm run events:replay -- [--consumer <durable>] [--list]`: lists the dead letters of this
 * deployment (NATS_URL, BUS_PREFIX) and, without --list, publishes each again on its original
 * subject and removes it from the dead-letter stream. Run it once the cause (a bug, bad data) is
 * fixed; consumers that handled an event before drop the replay by its id.
 */
import { parseArgs } from 'node:util';
import { connectBus, listDeadLetters, replayDeadLetters } from '@imm/bus';
import { exitOnConfigError, infrastructureShape, loadConfig } from '@imm/config';
import { createLogger } from '@imm/logging';

const { values } = parseArgs({
  options: {
    consumer: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

let config: ReturnType<typeof loadConfig<Pick<typeof infrastructureShape, 'NATS_URL' | 'BUS_PREFIX' | 'LOG_LEVEL'>>>;
try {
  const { NATS_URL, BUS_PREFIX, LOG_LEVEL } = infrastructureShape;
  config = loadConfig({ NATS_URL, BUS_PREFIX, LOG_LEVEL });
} catch (error) {
  exitOnConfigError(error);
}
const logger = createLogger('events-replay', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
const bus = await connectBus({ url: config.NATS_URL, prefix: config.BUS_PREFIX, name: 'events-replay', logger });
try {
  const letters = await listDeadLetters(bus, values.consumer);
  for (const letter of letters) {
    const { seq, consumer, subject, reason, deliveries, eventId } = letter;
    process.stdout.write(`${JSON.stringify({ seq, consumer, subject, eventId, deliveries, reason })}\n`);
  }
  if (values.list) {
    process.stdout.write(`${letters.length} dead letter(s)\n`);
  } else {
    const replayed = await replayDeadLetters(bus, letters);
    process.stdout.write(`${replayed} dead letter(s) replayed\n`);
  }
} finally {
  await bus.close();
}
