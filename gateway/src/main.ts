import { exitOnConfigError } from '@imm/config';
import { createLogger } from '@imm/logging';
import { onShutdown } from '@imm/web';
import { type GatewayConfig, loadGatewayConfig } from './config';
import { startGateway } from './gateway';

let config: GatewayConfig;
try {
  config = loadGatewayConfig();
} catch (error) {
  exitOnConfigError(error);
}
const logger = createLogger('gateway', config.LOG_LEVEL);
const gateway = await startGateway(config, logger);
onShutdown(() => gateway.close(), logger);
