/**
 * The preload every process is started with (`node --import tsx --import @imm/telemetry/register
 * <entry>`). With an OTLP endpoint configured it starts tracing before the process's own modules
 * load — ESM instrumentation must hook `express`, `ioredis`, `pg` and `http` before anyone imports
 * them, which no call inside the entry module can do. Without one it loads nothing.
 */
import { isMainThread } from 'node:worker_threads';
import { tracingRequested } from './tracing';

// A `node -e` one-liner (the image's health check) has no entry script and is never traced; worker
// threads (password hashing) inherit the preload but make no spans of their own.
if (tracingRequested() && process.argv[1] && isMainThread) {
  const { startTracing } = await import('./tracing-sdk');
  await startTracing();
}
