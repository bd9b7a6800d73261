import type { Logger } from '@imm/logging';
import { type DocumentPart, type MergeBase, mergeDocuments, type OpenApiDocument } from './merge';

export interface OpenApiCatalogOptions {
  /** Service name → base URL; each serves its part at `{url}/openapi.json`. */
  upstreams: Record<string, string>;
  /** The gateway's own routes. */
  own: OpenApiDocument;
  base: MergeBase;
  logger: Logger;
  /** Parts older than this are refetched (in the background) when the document is asked for. */
  refreshMs: number;
  fetchTimeoutMs?: number;
}

export interface OpenApiCatalog {
  /** The merged document; a part still missing is fetched once more first. */
  document(): Promise<OpenApiDocument>;
  /** Services whose part has not been fetched yet. */
  missing(): string[];
  /** Fetches every part, and keeps retrying the missing ones in the background until all answered. */
  start(): void;
  stop(): void;
}

interface Fetched {
  document: OpenApiDocument;
  fetchedAt: number;
}

function isDocument(value: unknown): value is OpenApiDocument {
  if (!value || typeof value !== 'object') return false;
  const doc = value as Partial<OpenApiDocument>;
  return typeof doc.openapi === 'string' && doc.openapi.startsWith('3.') && typeof doc.paths === 'object';
}

/**
 * Each service's part of the OpenAPI document, fetched from the service. A service that is not up
 * yet is retried (1 s, doubling to 30 s) until it answers; its paths are missing from the document
 * until then.
 */
export function createOpenApiCatalog(options: OpenApiCatalogOptions): OpenApiCatalog {
  const { logger, refreshMs } = options;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 3000;
  const names = Object.keys(options.upstreams);
  const parts = new Map<string, Fetched>();
  const inflight = new Map<string, Promise<void>>();
  /** Parts whose last fetch failed: an outage is logged once, not on every retry. */
  const failing = new Set<string>();
  let merged: OpenApiDocument | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelayMs = 1000;
  let stopped = false;

  async function fetchPart(name: string): Promise<void> {
    const url = new URL('/openapi.json', options.upstreams[name]).toString();
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(fetchTimeoutMs) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body: unknown = await response.json();
      if (!isDocument(body)) throw new Error('not an OpenAPI 3 document');
      const first = !parts.has(name);
      parts.set(name, { document: body, fetchedAt: Date.now() });
      merged = undefined;
      if (first || failing.delete(name)) logger.info({ upstream: name }, `OpenAPI part of ${name} fetched`);
    } catch (error) {
      const known = parts.get(name);
      // A part we have stays (a service restarting should not empty the document); retry later.
      if (known) known.fetchedAt = Date.now();
      if (failing.has(name)) return;
      failing.add(name);
      const reason =
        error instanceof Error
          ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}`
          : String(error);
      logger.warn({ upstream: name, reason }, `OpenAPI part of ${name} not fetched from ${url}; retrying`);
    }
  }

  function refresh(list: string[]): Promise<void> {
    return Promise.all(
      list.map((name) => {
        let running = inflight.get(name);
        if (!running) {
          running = fetchPart(name).finally(() => inflight.delete(name));
          inflight.set(name, running);
        }
        return running;
      }),
    ).then(() => undefined);
  }

  const missing = () => names.filter((name) => !parts.has(name));

  function scheduleRetry(): void {
    if (stopped || retryTimer || missing().length === 0) return;
    retryTimer = setTimeout(async () => {
      retryTimer = undefined;
      await refresh(missing());
      retryDelayMs = Math.min(retryDelayMs * 2, 30_000);
      scheduleRetry();
    }, retryDelayMs);
    // The server, not this timer, keeps the process alive.
    retryTimer.unref();
  }

  function build(): OpenApiDocument {
    const list: DocumentPart[] = [
      { name: 'gateway', document: options.own },
      ...names.flatMap((name) => {
        const part = parts.get(name);
        return part ? [{ name, document: part.document }] : [];
      }),
    ];
    const result = mergeDocuments(options.base, list);
    for (const warning of result.warnings) logger.warn(warning);
    return result.document;
  }

  return {
    async document() {
      const absent = missing();
      if (absent.length > 0) await refresh(absent);
      const stale = names.filter((name) => Date.now() - (parts.get(name)?.fetchedAt ?? 0) > refreshMs);
      if (stale.length > 0 && absent.length === 0) void refresh(stale);
      merged ??= build();
      return merged;
    },
    missing,
    start() {
      stopped = false;
      void refresh(names).then(scheduleRetry);
    },
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
    },
  };
}
