export {
  dropRedisKeys,
  dropStreams,
  dropTestDatabase,
  query,
  type TestInfrastructure,
  testInfrastructure,
} from './infrastructure';
export { type NatsServerHandle, startNatsServer } from './nats-server';
export { type RedisServerHandle, startRedisServer } from './redis-server';
export { uniqueName } from './names';
export { freePort, type WaitForOptions, waitFor } from './wait-for';
export {
  type ProcessName,
  type RunningProcess,
  type RunningSystem,
  spawnProcess,
  startProcess,
  startSystem,
} from './system';
export { type HttpMachines, type ReceivedCommand, startHttpMachines } from './http-machines';
export { startTcpProxy, type TcpProxy } from './tcp-proxy';
export { type ExportedSpan, type OtlpReceiver, startOtlpReceiver } from './otlp-receiver';
