import express, { type Express, type RequestHandler } from 'express';
import { acceptRequestId, type Logger, REQUEST_ID_HEADER, runWithRequestId } from '@imm/logging';
import { NotAcceptableError, UnsupportedMediaTypeError } from '@imm/errors';
import { accessLog } from './access-log';
import { errorHandler, notFoundHandler } from './error-handler';
import { route } from './routes';
import { healthRoutes, type ReadinessChecks } from './health';
import { type MessageCatalog, registerMessages } from './messages';
import { httpMetrics, metricsRoute } from './metrics';
import type { BlockList } from 'node:net';

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

export interface HttpAppOptions {
  logger: Logger;
  readiness: ReadinessChecks;
  /** Mounts the service's own routes; runs after the common middleware, before the 404 handler. */
  mount: (app: Express) => void;
  /** Middleware that must run before body parsing (the gateway's proxy streams bodies untouched). */
  beforeBody?: (app: Express) => void;
  bodyLimit?: string;
  /**
   * The service's part of the OpenAPI document, served as is (a standard document, no envelope)
   * at the internal `GET /openapi.json`, where the gateway fetches it to merge.
   */
  openApi?: object;
  /** Express `trust proxy`: whose X-Forwarded-For to believe; only a proxy on this host by default. */
  trustProxy?: string | boolean | number;
  /** Who may read `/metrics` (the gateway's port is public); everyone when absent. */
  metricsAllow?: BlockList;
  /** The texts of the service's own message keys (en and ko), added to libs/web's. */
  messages?: MessageCatalog[];
}

/** Every process's HTTP app: the same request ids, logs, metrics, JSON rules, health, 404 and envelope. */
export function createHttpApp(options: HttpAppOptions): Express {
  registerMessages(...(options.messages ?? []));
  const app = express();
  app.disable('x-powered-by');
  // Express hashes every body for a weak ETag; no client of this API revalidates with
  // If-None-Match, so the hash is paid on every response for nothing.
  app.set('etag', false);
  app.set('trust proxy', options.trustProxy ?? 'loopback');
  app.use(requestId);
  app.use(accessLog(options.logger, (url) => url === '/healthz' || url === '/readyz'));
  app.use(healthRoutes(options.readiness));
  // Probes and scrapes are answered before the request histogram, so they do not fill it.
  app.use(metricsRoute(options.metricsAllow));
  app.use(httpMetrics);
  // Before the JSON-only Accept rule: the gateway's HTML docs pages and its proxy (the services
  // apply the rule themselves) are mounted here.
  options.beforeBody?.(app);
  app.use(acceptsJson);
  app.use(jsonBody(options.bodyLimit ?? '100kb'));
  const { openApi } = options;
  if (openApi) {
    const docs = express.Router();
    route(docs, '/openapi.json', { get: (_req, res) => void res.json(openApi) });
    app.use(docs);
  }
  options.mount(app);
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
