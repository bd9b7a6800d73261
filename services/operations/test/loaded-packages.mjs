// Preloaded (`node --import`) into a worker under test: answers any IPC message with the npm
// packages the process has loaded so far. Every CommonJS module loaded (node-opcua is CommonJS)
// is in require's cache, whoever imported it.
import { createRequire } from 'node:module';

const loaded = createRequire(import.meta.url).cache;

process.on('message', () => {
  const packages = new Set();
  for (const file of Object.keys(loaded)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (match) packages.add(match[1]);
  }
  process.send?.([...packages].sort());
});
// The channel must not keep the worker running once it shuts down.
process.channel?.unref();
