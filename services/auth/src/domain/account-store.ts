import type { RefreshTokens } from './refresh-tokens';
import type { User, Users } from './users';

/** The events accounts record, published once their transaction commits. */
export interface AccountEvents {
  userRegistered(user: User): void;
}

/** What one transaction of the use cases reads and writes; all of it commits, or none. */
export interface AccountTransaction {
  users: Users;
  refreshTokens: RefreshTokens;
  events: AccountEvents;
}

/** Users and refresh tokens: each read or write outside a transaction stands alone. */
export interface AccountStore {
  readonly users: Users;
  readonly refreshTokens: RefreshTokens;
  /** Runs `work` in one transaction, rolled back when it throws. */
  transaction<T>(work: (tx: AccountTransaction) => Promise<T>): Promise<T>;
}
