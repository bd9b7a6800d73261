export interface PasswordCheck {
  ok: boolean;
  /** The stored hash should be replaced by a fresh bcrypt hash of the same password. */
  needsRehash: boolean;
}

/** Hashes passwords and checks them against stored hashes. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, encoded: string): Promise<PasswordCheck>;
  /** Spends the time of a real check, for unknown users, so timing does not reveal who exists. */
  verifyNothing(password: string): Promise<void>;
}
