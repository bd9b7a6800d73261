import type { RequestHandler } from 'express';
import { currentRequestId, type Logger, REQUEST_ID_HEADER } from '@imm/logging';

/**
 * One line per request once its answer is written (or the client went away): method, URL, status
 * and milliseconds taken; the request id and the trace come from the logger's mixin. pino-http wrote
 * the same line but built two child loggers per request first (serializing and redacting the request
 * each time), which was most of its cost under load (bench/README, finding 17).
 */
export function accessLog(logger: Logger, ignore: (url: string) => boolean): RequestHandler {
  return (req, res, next) => {
    if (ignore(req.url)) return next();
    const started = performance.now();
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      const fields = {
        req: { method: req.method, url: req.originalUrl },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - started),
        // A client that went away is noticed outside the request's context, where the mixin has no id.
        ...(currentRequestId() === undefined && { requestId: req.headers[REQUEST_ID_HEADER] }),
      };
      if (res.statusCode >= 500) logger.error(fields, 'request errored');
      else logger.info(fields, !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted');
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}
