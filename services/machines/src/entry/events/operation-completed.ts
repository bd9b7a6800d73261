import { type Bus, type RunningConsumer, startConsumer } from '@imm/bus';
import type { Logger } from '@imm/logging';
import type { MachineService } from '../../domain/machine-service';

/** The durable consumer's name; the de-duplication table keys processed events by it as well. */
export const OPERATION_COMPLETED_CONSUMER = 'machines-operation-completed';

/**
 * Moves a machine's status when one of its commands finished (see `planOperationResult`). The
 * event is marked processed in the same transaction as the change, so a redelivery is a no-op.
 */
export function startOperationCompletedConsumer(bus: Bus, service: MachineService, logger: Logger): RunningConsumer {
  return startConsumer(bus, {
    durable: OPERATION_COMPLETED_CONSUMER,
    types: ['operations.operation.completed'],
    async handle(event) {
      const { operation_id, machine_id, command, result } = event.data;
      const outcome = await service.applyOperationResult({
        eventId: event.id,
        consumer: OPERATION_COMPLETED_CONSUMER,
        operationId: operation_id,
        machineId: machine_id,
        command,
        result,
      });
      logger.info({ operationId: operation_id, machineId: machine_id, command, result, outcome }, 'operation result');
    },
  });
}
