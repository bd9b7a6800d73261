export { type BusSettings, busOf, type HttpSettings, listeningOf } from './settings';
export { closeRedis, connectRedis, type RedisConnectionOptions, type RedisKind, waitForRedis } from './redis';
export { readinessOf } from './readiness';
export { startTimer, type Timer } from './timers';
export {
  type Opened,
  type RedisDeclaration,
  type RunningService,
  type ServiceDeclaration,
  type Stoppable,
  startService,
  type TimerDeclaration,
} from './start-service';
// A main declares its process with startService and runs it with runMain.
export { isEntryPoint, runMain } from '@imm/web';
