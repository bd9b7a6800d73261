import { isEntryPoint, runMain } from '@imm/host';
import { loadGatewayConfig } from './config';
import { startGateway } from './gateway';

if (isEntryPoint(import.meta.url)) {
  void runMain({
    name: 'gateway',
    title: 'gateway',
    loadConfig: loadGatewayConfig,
    start: async (config, logger) => {
      const gateway = await startGateway(config, logger);
      return { stop: gateway.close };
    },
  });
}
