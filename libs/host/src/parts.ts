import type { Logger } from '@imm/logging';
import { type CloserStack, closerStack } from '@imm/web';

/** What a process opened, by name, closed newest first; each step logged at debug level. */
export interface Parts {
  /** Closes `thing` in turn with the rest (newest first); `close` defaults to its close() or stop(). */
  own<T>(thing: T, close?: (thing: T) => unknown, name?: string): T;
  /** The same stack as @imm/web's serveHttp takes it: a pushed closer is a part named `name`. */
  stackFor(name: string): CloserStack;
  closeAll(): Promise<void>;
}

function closeOrStop(thing: unknown): unknown {
  const closable = thing as { close?: () => unknown; stop?: () => unknown };
  if (typeof closable.close === 'function') return closable.close();
  if (typeof closable.stop === 'function') return closable.stop();
  throw new Error('own(): give a close function for what has neither close() nor stop()');
}

export function partsOf(logger: Logger): Parts {
  const closers = closerStack(logger);
  function own<T>(thing: T, close: (thing: T) => unknown = closeOrStop, name = 'part'): T {
    closers.push(async () => {
      await close(thing);
      logger.debug({ part: name }, 'closed');
    });
    logger.debug({ part: name }, 'opened');
    return thing;
  }
  return {
    own,
    stackFor: (name) => ({ push: (close) => void own(close, (c) => c(), name), closeAll: closers.closeAll }),
    closeAll: closers.closeAll,
  };
}
