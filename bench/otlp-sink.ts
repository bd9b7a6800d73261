/**
 * An OTLP/HTTP endpoint that accepts spans and keeps none, for measuring what tracing costs:
 *   npx tsx bench/otlp-sink.ts &        (prints its URL)
 *   npm run bench -- --env OTEL_EXPORTER_OTLP_ENDPOINT=<that URL> --env OTEL_EXPORTER_OTLP_PROTOCOL=http/json
 */
import { startOtlpReceiver } from '@imm/testing';

const sink = await startOtlpReceiver({ keepSpans: false });
process.stdout.write(`OTLP sink at ${sink.url}\n`);
