import { createRequire } from 'node:module';
import express, { type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import { NotFoundError } from '@imm/errors';
import { route } from '@imm/web';
import type { OpenApiCatalog } from './catalog';
import { OPENAPI_PATH, REDOC_PATH, SWAGGER_PATH } from './gateway-document';

const require = createRequire(import.meta.url);
const redocBundle = require.resolve('redoc/bundles/redoc.standalone.js');
const REDOC_SCRIPT = `${REDOC_PATH}redoc.standalone.js`;
/** Express matches these with and without the trailing slash. */
const swaggerRoute = SWAGGER_PATH.replace(/\/$/, '');
const redocRoute = REDOC_PATH.replace(/\/$/, '');

/**
 * The documentation pages load only this gateway's own files. Scripts: self only, no inline code.
 * Styles: inline allowed, because ReDoc (styled-components) injects <style> elements and Swagger
 * UI's page carries a <style> block. ReDoc's search runs in a worker made from a blob: URL.
 */
const docsCsp = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    workerSrc: ["'self'", 'blob:'],
    objectSrc: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

const title = 'imm-control API';

const swaggerOptions = {
  swaggerUrl: OPENAPI_PATH,
  customSiteTitle: title,
  // No badge from validator.swagger.io: the page talks to this gateway only.
  swaggerOptions: { validatorUrl: null, persistAuthorization: true, displayRequestDuration: true },
};

/** swagger-ui-express's page refers to its files relatively; absolute paths work without the trailing slash too. */
const swaggerPage = swaggerUi.generateHTML(undefined, swaggerOptions).replaceAll('"./', `"${SWAGGER_PATH}`);
const [swaggerInit, swaggerFiles] = swaggerUi.serveFiles(undefined, swaggerOptions) as RequestHandler[];

/** Only the files the page uses; swagger-ui-dist's demo index (pointing at the petstore) stays hidden. */
const swaggerAsset =
  /^\/(swagger-ui\.css|swagger-ui-bundle\.js|swagger-ui-standalone-preset\.js|swagger-ui-init\.js|favicon-(16x16|32x32)\.png)(\.map)?$/;

const redocPage = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title}</title>
  <link rel="icon" type="image/png" href="/api/swagger/favicon-32x32.png">
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="${OPENAPI_PATH}"></redoc>
  <script src="${REDOC_SCRIPT}"></script>
</body>
</html>
`;

/** GET /api/openapi.json (the merged document, not enveloped), /api/swagger/ and /api/docs/. */
export function openApiRoutes(catalog: OpenApiCatalog): Router {
  const router = express.Router();

  route(router, OPENAPI_PATH, {
    get: async (_req, res) => {
      const document = await catalog.document();
      res.set('Cache-Control', 'no-cache').json(document);
    },
  });

  route(router, swaggerRoute, {
    get: [docsCsp, (_req, res) => void res.type('html').send(swaggerPage)],
  });
  router.use(swaggerRoute, docsCsp, (req, _res, next) => {
    if (!swaggerAsset.test(req.path)) throw new NotFoundError('route_not_found');
    next();
  });
  router.use(swaggerRoute, swaggerInit as RequestHandler, swaggerFiles as RequestHandler);

  route(router, redocRoute, {
    get: [docsCsp, (_req, res) => void res.type('html').send(redocPage)],
  });
  route(router, REDOC_SCRIPT, {
    get: (_req, res) => res.sendFile(redocBundle, { maxAge: '1h' }),
  });

  return router;
}
