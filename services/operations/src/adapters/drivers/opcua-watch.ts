import { AttributeIds, type ClientSession, type DataValue, type NodeId, TimestampsToReturn } from 'node-opcua-client';

export interface ValueWatch {
  stop(): Promise<void>;
}

/**
 * Subscribes to the values of `nodes`: `onValue(index, value)` for the current value of each and
 * for every change after it. Sampling 0 asks for every change (the server revises it to what it
 * can do), with a queue, so a quick 5 → 6 → 7 is seen step by step.
 */
export async function watchValues(
  session: ClientSession,
  nodes: NodeId[],
  onValue: (index: number, value: unknown) => void,
  publishingIntervalMs = 100,
): Promise<ValueWatch> {
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: publishingIntervalMs,
    requestedLifetimeCount: 600,
    requestedMaxKeepAliveCount: 20,
    maxNotificationsPerPublish: 100,
    publishingEnabled: true,
    priority: 1,
  });
  try {
    await Promise.all(
      nodes.map(async (nodeId, index) => {
        const item = await subscription.monitor(
          { nodeId, attributeId: AttributeIds.Value },
          { samplingInterval: 0, discardOldest: false, queueSize: 20 },
          TimestampsToReturn.Neither,
        );
        item.on('changed', (dataValue: DataValue) => {
          if (dataValue.statusCode.isGood()) onValue(index, dataValue.value?.value);
        });
      }),
    );
  } catch (error) {
    await subscription.terminate().catch(() => {});
    throw error;
  }
  return {
    async stop() {
      await subscription.terminate().catch(() => {});
    },
  };
}
