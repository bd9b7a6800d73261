import type { Logger } from '@imm/logging';

/** Closes what was opened, newest first; a failing closer does not keep the others open. */
export function closerStack(logger: Logger) {
  const closers: (() => Promise<unknown> | unknown)[] = [];
  return {
    push: (close: () => Promise<unknown> | unknown) => void closers.push(close),
    async closeAll(): Promise<void> {
      for (const close of closers.splice(0).reverse()) {
        try {
          await close();
        } catch (error) {
          logger.warn({ err: error }, 'error while shutting down');
        }
      }
    },
  };
}
