/** The source cannot be read or is not what the old service wrote; nothing was written. */
export class SourceError extends Error {
  override name = 'SourceError';
}
