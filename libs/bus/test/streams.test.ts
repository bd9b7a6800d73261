import { streams as eventStreams } from '@imm/contracts';
import { createLogger } from '@imm/logging';
import { testInfrastructure } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bus, connectBus, declareStreams, StreamDeclarationError } from '../src/index';

/**
 * NATS_STREAM_REPLICAS reaches the streams' configuration. The test server is a single NATS, which
 * keeps one copy only: it creates streams with 1 replica and refuses to create them with 3.
 */
const logger = createLogger('bus-streams-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const url = 'nats://127.0.0.1:4222';
let bus: Bus;

async function streamsOf(target: Bus): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for await (const stream of target.jsm.streams.list()) {
    if (stream.config.name.startsWith(`${target.prefix.toUpperCase()}_`))
      found.set(stream.config.name, stream.config.num_replicas);
  }
  return found;
}

async function removeStreams(target: Bus): Promise<void> {
  for (const name of (await streamsOf(target)).keys()) await target.jsm.streams.delete(name);
}

beforeAll(async () => {
  bus = await connectBus({
    url,
    prefix: testInfrastructure('bus_replicas').BUS_PREFIX,
    name: 'bus-streams-test',
    logger,
    streamReplicas: 1,
  });
});

afterAll(async () => {
  await removeStreams(bus);
  await bus.close();
});

describe('stream replicas', () => {
  it('creates every stream with the replica count it is given', async () => {
    const streams = await streamsOf(bus);
    expect([...streams.keys()].sort()).toEqual(
      [...eventStreams, 'dead'].map((s) => `${bus.prefix.toUpperCase()}_${s.toUpperCase()}`).sort(),
    );
    for (const [name, replicas] of streams) expect(replicas, name).toBe(1);
  });

  it('changes an existing stream to the replica count it is given, and leaves it when given none', async () => {
    const name = [...(await streamsOf(bus)).keys()][0] as string;
    const info = await bus.jsm.streams.info(name);
    // As `nats stream edit --replicas 3` would (a single server takes the edit and reports it).
    await bus.jsm.streams.update(name, { ...info.config, num_replicas: 3 });
    expect((await streamsOf(bus)).get(name)).toBe(3);

    await declareStreams(bus.jsm, bus.prefix); // a tool: no setting, no change
    expect((await streamsOf(bus)).get(name)).toBe(3);

    await declareStreams(bus.jsm, bus.prefix, 1); // a service: its setting wins
    expect((await bus.jsm.streams.info(name)).config.num_replicas).toBe(1);
  });

  it('does not start when NATS refuses the replica count, naming the setting', async () => {
    const prefix = testInfrastructure('bus_replicas3').BUS_PREFIX;
    const attempt = connectBus({ url, prefix, name: 'bus-streams-test-3', logger, streamReplicas: 3 });
    await expect(attempt).rejects.toBeInstanceOf(StreamDeclarationError);
    await expect(attempt).rejects.toThrow(/with 3 replica\(s\) \(NATS_STREAM_REPLICAS\) was refused by NATS/);
    const names: string[] = [];
    for await (const stream of bus.jsm.streams.list()) names.push(stream.config.name);
    expect(names.filter((n) => n.startsWith(`${prefix.toUpperCase()}_`))).toEqual([]);
  });
});
