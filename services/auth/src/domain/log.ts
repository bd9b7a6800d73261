/** Where the use cases tell what happened (the service's logger). */
export interface Log {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}
