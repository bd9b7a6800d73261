import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { currentRequestId } from '@imm/logging';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, route } from '../src/index';

interface Line {
  level: number;
  msg: string;
  requestId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
}

const lines: Line[] = [];
// The request id comes from the mixin, as in createLogger.
const logger = pino(
  { mixin: () => ({ requestId: currentRequestId() }) },
  { write: (line: string) => void lines.push(JSON.parse(line) as Line) },
);
let server: Server;
let base: string;

beforeAll(async () => {
  const app = createHttpApp({
    logger,
    readiness: {},
    mount: (a) => {
      const router = express.Router();
      route(router, '/ok', { get: (_req, res) => void res.json({ ok: true }) });
      route(router, '/boom', {
        get: () => {
          throw new Error('boom');
        },
      });
      route(router, '/slow', { get: async (_req, res) => void setTimeout(() => res.json({}), 300) });
      a.use(router);
    },
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const accessLines = (requestId: string) => lines.filter((l) => l.requestId === requestId && l.req);
const eventually = async (check: () => void) => {
  for (let i = 0; ; i++) {
    try {
      return check();
    } catch (error) {
      if (i > 50) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
};

describe('access log', () => {
  it('writes one line per request with its id, method, URL, status and time', async () => {
    await fetch(`${base}/ok?x=1`, { headers: { 'X-Request-Id': 'access-ok' } });
    await eventually(() => expect(accessLines('access-ok')).toHaveLength(1));
    const [line] = accessLines('access-ok');
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { method: 'GET', url: '/ok?x=1' },
      res: { statusCode: 200 },
    });
    expect(line?.responseTime).toBeGreaterThanOrEqual(0);
  });

  it('logs a 5xx at error level', async () => {
    const response = await fetch(`${base}/boom`, { headers: { 'X-Request-Id': 'access-boom' } });
    expect(response.status).toBe(500);
    await eventually(() =>
      expect(accessLines('access-boom')).toEqual([
        expect.objectContaining({ level: 50, msg: 'request errored', res: { statusCode: 500 } }),
      ]),
    );
  });

  it('says when the client went away before the answer', async () => {
    await fetch(`${base}/slow`, { headers: { 'X-Request-Id': 'access-gone' }, signal: AbortSignal.timeout(50) }).catch(
      () => {},
    );
    await eventually(() =>
      expect(accessLines('access-gone')).toEqual([expect.objectContaining({ msg: 'request aborted' })]),
    );
  });

  it('leaves out health probes', async () => {
    await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'access-health' } });
    await fetch(`${base}/ok`, { headers: { 'X-Request-Id': 'access-after-health' } });
    await eventually(() => expect(accessLines('access-after-health')).toHaveLength(1));
    expect(accessLines('access-health')).toEqual([]);
  });
});
