/** A delay that `wake()` cuts short, so stop() never waits out a backoff. */
export function interruptibleSleep(): { sleep(ms: number): Promise<void>; wake(): void } {
  let pending: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  return {
    sleep(ms) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending = undefined;
          resolve();
        }, ms);
        pending = { timer, resolve };
      });
    },
    wake() {
      if (!pending) return;
      clearTimeout(pending.timer);
      pending.resolve();
      pending = undefined;
    },
  };
}
