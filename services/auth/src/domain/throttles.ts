/** One attempt taken before the password is checked: give it back when the password was right. */
export interface SignInAttempt {
  succeeded(): Promise<void>;
}

export interface SignInThrottle {
  /**
   * Takes one attempt for the username, the address and the pair, atomically, before any password
   * work: 429 when the pair or the address has used up its failures; slowed (not refused) when the
   * username is being guessed from many addresses.
   */
  attempt(username: string, address: string): Promise<SignInAttempt>;
}

export interface SignUpThrottle {
  /** Takes one sign-up for the address, or throws a 429. */
  attempt(address: string): Promise<void>;
}
