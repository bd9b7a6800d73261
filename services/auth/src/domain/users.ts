/** A user as the use cases see it (Django's auth_user, field for field). */
export interface User {
  id: number;
  username: string;
  email: string;
  /** The hash: bcrypt, or a Django `pbkdf2_sha256$…` until the user's next sign-in. */
  password: string;
  firstName: string;
  lastName: string;
  isStaff: boolean;
  isActive: boolean;
  isSuperuser: boolean;
  lastLogin: Date | null;
  dateJoined: Date;
}

/** A user to create; it starts active. */
export type NewUser = Omit<User, 'id' | 'isActive'>;

/** Where users are kept. */
export interface Users {
  findById(id: number): Promise<User | null>;
  /** Usernames are case-sensitive, as in Django. */
  findByUsername(username: string): Promise<User | null>;
  usernameTaken(username: string): Promise<boolean>;
  /** Emails are unique regardless of case. */
  emailTaken(email: string): Promise<boolean>;
  /**
   * Stores a new, active user and returns it with its id. A username or email taken meanwhile
   * fails the transaction with `UserTaken`.
   */
  add(user: NewUser): Promise<User>;
  /** A successful sign-in: the time, and the bcrypt hash that replaces an imported one. */
  recordSignIn(id: number, at: Date, passwordHash?: string): Promise<void>;
  setPassword(id: number, passwordHash: string): Promise<void>;
  /** True when this call deactivated the user (false: no such user, or inactive already). */
  deactivate(id: number): Promise<boolean>;
  /**
   * Stores the user unless one with its username or email exists, atomically, so processes
   * starting together agree. The new id, or undefined when nothing was stored.
   */
  insertIfAbsent(user: NewUser): Promise<number | undefined>;
}

/** Another sign-up with the same username or email committed between our check and our insert. */
export class UserTaken extends Error {
  constructor(readonly field: 'username' | 'email') {
    super(`${field} taken`);
    this.name = 'UserTaken';
  }
}
