import { type Bus, type RunningConsumer, startConsumer } from '@imm/bus';
import type { Logger } from '@imm/logging';
import type { MachineService } from '../../domain/machine-service';

export const STATUS_OBSERVED_CONSUMER = 'machines-status-observed';

/**
 * Moves a machine's status to what its OPC UA monitor observed (cause `observed`; see
 * `planObservedStatus`). An observation that follows a command result not applied yet fails and
 * is delivered again a moment later, after that result.
 */
export function startStatusObservedConsumer(bus: Bus, service: MachineService, logger: Logger): RunningConsumer {
  return startConsumer(bus, {
    durable: STATUS_OBSERVED_CONSUMER,
    types: ['operations.machine.status_observed'],
    retryDelayMs: 250,
    async handle(event) {
      const data = event.data;
      const outcome = await service.applyObservedStatus(
        { eventId: event.id, consumer: STATUS_OBSERVED_CONSUMER, machineId: data.machine_id },
        {
          status: data.status,
          jobStatusChanged: data.job_status_changed,
          reachabilityChanged: data.reachability_changed,
          afterOperationId: data.after_operation_id,
        },
      );
      logger.info(
        { machineId: data.machine_id, status: data.status, jobStatus: data.job_status, outcome },
        'machine status observed',
      );
    },
  });
}
