import type { Principal } from '@imm/auth';
import {
  type FieldMessages,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  ValidationError,
} from '@imm/errors';
import type { AccountStore } from './account-store';
import type { Log } from './log';
import type { PasswordHasher } from './passwords';
import { passwordProblems } from './password-policy';
import type { Sessions, TokenPair } from './sessions';
import type { SignInThrottle, SignUpThrottle } from './throttles';
import { type NewUser, type User, UserTaken } from './users';

export interface SignUpInput {
  username: string;
  email: string;
  password: string;
  firstName: string;
  lastName: string;
}

export interface PasswordChange {
  oldPassword: string;
  newPassword: string;
}

export interface SignedIn {
  user: User;
  token: TokenPair;
}

export interface Accounts {
  /** `address`: the client's, for throttling. */
  signUp(input: SignUpInput, address: string): Promise<SignedIn>;
  /** `address`: the client's, for throttling. */
  signIn(username: string, password: string, address: string): Promise<SignedIn>;
  /** The caller of a valid access token, as long as the account exists and is active. */
  currentUser(id: number): Promise<User>;
  /**
   * Checks the current password (throttled like a sign-in), sets the new one, ends every session
   * of the user and outdates all its access tokens.
   */
  changePassword(caller: Principal, change: PasswordChange, address: string): Promise<void>;
  /** A superuser deactivates a user: every session ends and its access tokens are outdated at once. */
  deactivate(caller: Principal, userId: number): Promise<User>;
  /** Creates the superuser `admin` unless it exists; true when this call created it. */
  seedAdmin(options: { password: string; email: string }): Promise<boolean>;
}

export interface AccountsDeps {
  store: AccountStore;
  hasher: PasswordHasher;
  sessions: Sessions;
  throttle: SignInThrottle;
  signUpThrottle: SignUpThrottle;
  logger: Log;
  /** Called after a transaction that recorded events committed (main flushes the outbox relay). */
  eventsRecorded?: () => void;
}

export const ADMIN_USERNAME = 'admin';

export function createAccounts(deps: AccountsDeps): Accounts {
  const { store, hasher, sessions, throttle, signUpThrottle, logger } = deps;
  const eventsRecorded = () => deps.eventsRecorded?.();

  /** Inserts the user, records the event and issues the first tokens, all in one transaction. */
  async function register(user: NewUser): Promise<SignedIn> {
    try {
      const signedIn = await store.transaction(async (tx) => {
        const created = await tx.users.add(user); // the event needs the id
        tx.events.userRegistered(created);
        return { user: created, token: await sessions.start(tx, created) };
      });
      eventsRecorded();
      return signedIn;
    } catch (error) {
      // Another sign-up with the same name or email committed between our check and our insert.
      if (error instanceof UserTaken) throw ValidationError.field(error.field, `${error.field}_taken`);
      throw error;
    }
  }

  return {
    async signUp(input, address) {
      await signUpThrottle.attempt(address);
      const [usernameTaken, emailTaken] = await Promise.all([
        store.users.usernameTaken(input.username),
        store.users.emailTaken(input.email),
      ]);
      const taken: FieldMessages = {};
      if (usernameTaken) taken.username = [{ key: 'username_taken' }];
      if (emailTaken) taken.email = [{ key: 'email_taken' }];
      if (Object.keys(taken).length > 0) throw new ValidationError(taken);

      const password = await hasher.hash(input.password);
      const now = new Date();
      return register({
        username: input.username,
        email: input.email,
        password,
        firstName: input.firstName,
        lastName: input.lastName,
        // Never from the request: sign-up makes ordinary users only.
        isStaff: false,
        isSuperuser: false,
        // Sign-up signs the user in.
        lastLogin: now,
        dateJoined: now,
      });
    },

    async signIn(username, password, address) {
      const attempt = await throttle.attempt(username, address);
      const user = await store.users.findByUsername(username);
      // The same work and the same answer whether the user is unknown, inactive or mistyped.
      let ok = false;
      let needsRehash = false;
      if (user) ({ ok, needsRehash } = await hasher.verify(password, user.password));
      else await hasher.verifyNothing(password);
      // The attempt stays counted as a failure unless given back here.
      if (!user || !ok || !user.isActive) throw new UnauthenticatedError('invalid_credentials');
      await attempt.succeeded();

      const lastLogin = new Date();
      const rehashed = needsRehash ? await hasher.hash(password) : undefined;
      const token = await store.transaction(async (tx) => {
        await tx.users.recordSignIn(user.id, lastLogin, rehashed);
        return sessions.start(tx, user);
      });
      if (rehashed) logger.info({ userId: user.id }, 'password rehashed to bcrypt');
      return { user: { ...user, lastLogin }, token };
    },

    async currentUser(id) {
      const user = await store.users.findById(id);
      if (!user) throw new UnauthenticatedError('user_not_found');
      if (!user.isActive) throw new UnauthenticatedError('user_inactive');
      return user;
    },

    async changePassword(caller, change, address) {
      const user = await store.users.findById(caller.id);
      if (!user?.isActive) throw new UnauthenticatedError(user ? 'user_inactive' : 'user_not_found');
      const problems = passwordProblems(change.newPassword, user.username);
      if (problems.length > 0) {
        throw new ValidationError({ new_password: problems.map((key) => ({ key })) });
      }
      // A stolen access token must not become a way to guess the password without limit.
      const attempt = await throttle.attempt(user.username, address);
      const { ok } = await hasher.verify(change.oldPassword, user.password);
      if (!ok) throw ValidationError.field('old_password', 'password_incorrect');
      await attempt.succeeded();
      const hash = await hasher.hash(change.newPassword);
      // Outdate first: if Redis cannot take the mark (503), the old password still stands.
      await sessions.endAll(user.id);
      await store.users.setPassword(user.id, hash);
      logger.info({ userId: user.id }, 'password changed; sessions ended');
    },

    async deactivate(caller, userId) {
      if (!caller.isSuperuser) throw new PermissionDeniedError();
      const user = await store.users.findById(userId);
      if (!user) throw new NotFoundError();
      await sessions.endAll(user.id);
      if (await store.users.deactivate(user.id)) {
        logger.info({ userId: user.id, by: caller.id }, 'user deactivated; sessions ended');
      }
      return { ...user, isActive: false };
    },

    async seedAdmin({ password, email }) {
      // Hashing takes a while; skip it on every start but the first.
      if (await store.users.findByUsername(ADMIN_USERNAME)) return false;
      const hash = await hasher.hash(password);
      const created = await store.transaction(async ({ users, events }) => {
        const id = await users.insertIfAbsent({
          username: ADMIN_USERNAME,
          email,
          password: hash,
          firstName: '',
          lastName: '',
          isStaff: true,
          isSuperuser: true,
          lastLogin: null,
          dateJoined: new Date(),
        });
        if (id === undefined) {
          // A concurrent start created it, or another account already has the admin's email.
          if (!(await users.findByUsername(ADMIN_USERNAME))) {
            logger.warn({ email }, 'admin not created: another user has its email');
          }
          return false;
        }
        const admin = await users.findById(id);
        if (admin) events.userRegistered(admin);
        logger.info({ userId: id }, 'superuser admin created');
        return true;
      });
      if (created) eventsRecorded();
      return created;
    },
  };
}
