import http, { type Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import { freePort } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamAgents } from '../src/proxy';
import { spreadOverAddresses } from '../src/upstream-lookup';

/**
 * A scaled service is one name with an address per replica (Docker's DNS in compose). Two replicas
 * here: servers on 127.0.0.1 and 127.0.0.2 (both loopback on Linux), same port, behind one name
 * that a stand-in resolver answers with both addresses, in the same order every time, as a sorting
 * system resolver may.
 */
const NAME = 'machines.replicas.test';
const replicas: { address: string; server: Server; requests: number }[] = [];
let port = 0;
const resolve = (
  hostname: string,
  _options: object,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) =>
  hostname === NAME
    ? callback(
        null,
        replicas.map((r) => ({ address: r.address, family: 4 })),
      )
    : callback(Object.assign(new Error(`unknown ${hostname}`), { code: 'ENOTFOUND' }), []);

beforeAll(async () => {
  port = await freePort();
  for (const address of ['127.0.0.1', '127.0.0.2']) {
    const replica = { address, server: http.createServer(), requests: 0 };
    replica.server.on('request', (_req, res) => {
      replica.requests += 1;
      // Slow enough that concurrent requests need sockets of their own.
      setTimeout(() => res.end(address), 50);
    });
    await new Promise<void>((done) => replica.server.listen(port, address, done));
    replicas.push(replica);
  }
});
afterAll(async () => {
  for (const r of replicas) await new Promise((done) => r.server.close(done));
});

async function send(agent: http.Agent, count: number): Promise<string[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<string>((done, fail) => {
          http
            .get({ host: NAME, port, path: '/', agent }, (res) => {
              let body = '';
              res.on('data', (chunk) => {
                body += chunk;
              });
              res.on('end', () => done(body));
            })
            .on('error', fail);
        }),
    ),
  );
}

describe('the gateway’s upstream connections', () => {
  it('go to the replicas of a service in turn', async () => {
    const agents = createUpstreamAgents(spreadOverAddresses(resolve));
    try {
      const answers = await send(agents.http, 8);
      expect(answers.filter((a) => a === '127.0.0.1')).toHaveLength(4);
      expect(answers.filter((a) => a === '127.0.0.2')).toHaveLength(4);
    } finally {
      agents.destroy();
    }
  });

  it('all go to the first address without it (what the resolver sorts first)', async () => {
    const agent = new http.Agent({
      keepAlive: true,
      lookup: (hostname, options, callback) =>
        resolve(hostname, options, (error, addresses) =>
          options.all ? callback(error, addresses) : callback(error, addresses[0]?.address ?? '', 4),
        ),
    });
    try {
      expect(new Set(await send(agent, 8))).toEqual(new Set(['127.0.0.1']));
    } finally {
      agent.destroy();
    }
  });

  it('try the next replica when one refuses the connection', async () => {
    const agents = createUpstreamAgents(
      spreadOverAddresses((hostname, options, callback) =>
        resolve(hostname, options, (error, addresses) =>
          // A replica that is gone (nothing listens on 127.0.0.3), listed first.
          callback(error, [{ address: '127.0.0.3', family: 4 }, ...addresses]),
        ),
      ),
    );
    try {
      const answers = await send(agents.http, 3);
      expect(answers.every((a) => a.startsWith('127.0.0.'))).toBe(true);
    } finally {
      agents.destroy();
    }
  });
});
