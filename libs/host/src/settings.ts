import type { BusOptions } from '@imm/bus';

/** The shared settings every process reads for NATS (libs/config's infrastructure shape). */
export interface BusSettings {
  NATS_URL: string;
  BUS_PREFIX: string;
  NATS_STREAM_REPLICAS: number;
}

/** A process's bus declaration from its settings: one place that knows which setting is which. */
export function busOf(settings: BusSettings, name: string): Omit<BusOptions, 'logger'> {
  return { url: settings.NATS_URL, prefix: settings.BUS_PREFIX, streamReplicas: settings.NATS_STREAM_REPLICAS, name };
}

/** The shared settings every process reads for its HTTP port. */
export interface HttpSettings {
  PORT: number;
  HOST: string;
  TRUSTED_PROXIES: string[];
}

/** Where a process listens and whose forwarded headers it believes, from its settings. */
export function listeningOf(settings: HttpSettings): { port: number; host: string; trustedProxies: string[] } {
  return { port: settings.PORT, host: settings.HOST, trustedProxies: settings.TRUSTED_PROXIES };
}
