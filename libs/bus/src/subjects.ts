import { type EventType, type StreamName, streamOf } from '@imm/contracts';

/** `imm` + `machines.machine.created` → `imm.machines.machine.created`. */
export function subjectOf(prefix: string, type: EventType): string {
  return `${prefix}.${type}`;
}

/** One stream per publishing service: `IMM_MACHINES` holds `imm.machines.>`. */
export function streamNameOf(prefix: string, service: StreamName): string {
  return `${prefix.toUpperCase()}_${service.toUpperCase()}`;
}

export function streamOfType(prefix: string, type: EventType): string {
  return streamNameOf(prefix, streamOf(type));
}

/** Messages no handler could process end up here, one subject per consumer, for inspection and replay. */
export function deadLetterStreamName(prefix: string): string {
  return `${prefix.toUpperCase()}_DEAD`;
}

export function deadLetterSubject(prefix: string, durable: string): string {
  return `${prefix}.dead.${durable}`;
}
