/**
 * The public OpenAPI document as the gateway serves it at /api/openapi.json, merged from the same
 * parts the services build, without starting any process. `npm run lint` lints it
 * (scripts/lint-openapi.ts); `tsx scripts/openapi-document.ts FILE` writes it to FILE.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gatewayDocument, mergeBase } from '../gateway/src/openapi/gateway-document';
import { type DocumentPart, mergeDocuments, type OpenApiDocument } from '../gateway/src/openapi/merge';
import { authOpenApi } from '../services/auth/src/entry/http/openapi';
import { machinesOpenApi } from '../services/machines/src/entry/http/openapi';
import { operationsOpenApi } from '../services/operations/src/entry/http/openapi';

const { version } = createRequire(import.meta.url)('../gateway/package.json') as { version: string };

/** The merged document; a warning (a part's path the gateway does not route, a conflict) is an error here. */
export function publicOpenApiDocument(): OpenApiDocument {
  const parts: DocumentPart[] = [
    { name: 'gateway', document: gatewayDocument(version) },
    { name: 'auth', document: authOpenApi() as unknown as OpenApiDocument },
    { name: 'machines', document: machinesOpenApi() as unknown as OpenApiDocument },
    { name: 'operations', document: operationsOpenApi() as unknown as OpenApiDocument },
  ];
  const { document, warnings } = mergeDocuments(mergeBase(version), parts);
  if (warnings.length > 0) throw new Error(`the parts do not merge cleanly:\n${warnings.join('\n')}`);
  return document;
}

export function writeOpenApiDocument(file: string): void {
  writeFileSync(file, `${JSON.stringify(publicOpenApiDocument(), null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file] = process.argv.slice(2);
  if (!file) {
    console.error('usage: tsx scripts/openapi-document.ts FILE');
    process.exit(64);
  }
  writeOpenApiDocument(file);
}
