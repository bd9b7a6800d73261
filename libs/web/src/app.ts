import express, { type Express, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { acceptRequestId, type Logger, REQUEST_ID_HEADER, runWithRequestId } from '@imm/logging';
import { AppError, ErrorCode, NotAcceptableError, UnsupportedMediaTypeError } from './errors';
import { errorHandler, notFoundHandler } from './error-handler';
import { send } from './envelope';

/** Takes the client's request id (or makes one), echoes it, and binds it to every log line. */
export const requestId: RequestHandler = (req, res, next) => {
  const id = acceptRequestId(req.get(REQUEST_ID_HEADER));
  req.headers[REQUEST_ID_HEADER] = id;
  res.setHeader('X-Request-Id', id);
  runWithRequestId(id, next);
};

/** The API speaks JSON only: an Accept header that rules it out is a 406. */
export const acceptsJson: RequestHandler = (req, _res, next) => {
  if (req.get('accept') && !req.accepts('application/json')) throw new NotAcceptableError();
  next();
};

function hasBody(req: express.Request): boolean {
  const length = req.get('content-length');
  return req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}

/** JSON bodies only; a body of another media type is a 415, a missing body reads as `{}`. */
export function jsonBody(limit: string): RequestHandler[] {
  const parse = express.json({ limit, strict: false, type: () => true });
  const checkType: RequestHandler = (req, _res, next) => {
    if (!hasBody(req)) {
      req.body = {};
      return next();
    }
    const type = req.get('content-type') ?? '';
    if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) throw new UnsupportedMediaTypeError(type || 'none');
    next();
  };
  return [checkType, parse];
}

export type ReadinessChecks = Record<string, () => Promise<unknown>>;

async function withTimeout(check: () => Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz`: the process answers. `/readyz`: each dependency answers within two seconds. */
export function healthRoutes(checks: ReadinessChecks): express.Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => send(res, { status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => withTimeout(checks[name] as () => Promise<unknown>, 2000)));
    const down = names.filter((_, i) => !results[i]);
    if (down.length > 0) {
      throw new AppError(
        503,
        ErrorCode.SERVICEUNAVAILABLE,
        Object.fromEntries(down.map((name) => [name, [{ key: 'dependency_down' }]])),
        { 'Retry-After': '5' },
      );
    }
    send(res, Object.fromEntries(names.map((name) => [name, 'ok'])));
  });
  return router;
}

export interface HttpAppOptions {
  logger: Logger;
  readiness: ReadinessChecks;
  /** Mounts the service's own routes; runs after the common middleware, before the 404 handler. */
  mount: (app: Express) => void;
  /** Middleware that must run before body parsing (the gateway's proxy streams bodies untouched). */
  beforeBody?: (app: Express) => void;
  bodyLimit?: string;
  /** Express `trust proxy`: whose X-Forwarded-For to believe. */
  trustProxy?: string | boolean | number;
}

/** Every process's HTTP app: the same request ids, logs, JSON rules, health, 404 and envelope. */
export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? 'loopback, linklocal, uniquelocal');
  app.use(requestId);
  app.use(
    pinoHttp({
      logger: options.logger,
      genReqId: (req) => String(req.headers[REQUEST_ID_HEADER]),
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(healthRoutes(options.readiness));
  // Before the JSON-only Accept rule: the gateway's HTML docs pages and its proxy (the services
  // apply the rule themselves) are mounted here.
  options.beforeBody?.(app);
  app.use(acceptsJson);
  app.use(jsonBody(options.bodyLimit ?? '100kb'));
  options.mount(app);
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
