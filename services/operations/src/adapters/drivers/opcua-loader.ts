/**
 * The one way into the modules that need node-opcua (`opcua-runtime.ts`): imported on first use,
 * never at start. The production build puts them in a chunk of their own (esbuild splitting), so
 * node-opcua is not loaded with the worker's file either.
 */
export function loadOpcua(): Promise<typeof import('./opcua-runtime')> {
  return import('./opcua-runtime');
}
