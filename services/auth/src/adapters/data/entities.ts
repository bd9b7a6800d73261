import { defineEntity, type InferEntity } from '@imm/db';

/** Django's auth_user, column for column, so users imported from the Django service fit as they are. */
export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    username: p.string().length(150),
    email: p.string().length(254),
    /** The hash: bcrypt, or a Django `pbkdf2_sha256$…` until the user's next sign-in. */
    password: p.string().length(128).hidden(),
    firstName: p.string().length(150),
    lastName: p.string().length(150),
    isStaff: p.boolean(),
    isActive: p.boolean(),
    isSuperuser: p.boolean(),
    lastLogin: p.datetime().columnType('timestamptz').nullable(),
    dateJoined: p.datetime().columnType('timestamptz'),
  }),
});
export type User = InferEntity<typeof User>;

/**
 * One row per refresh token issued. Rotation links a token to its successor (`replacedBy`); all
 * tokens descending from one sign-in share a `familyId`, so a reused token revokes them all.
 */
export const RefreshToken = defineEntity({
  name: 'RefreshToken',
  tableName: 'refresh_token',
  properties: (p) => ({
    jti: p.string().length(64).primary(),
    familyId: p.uuid(),
    userId: p.integer(),
    createdAt: p.datetime().columnType('timestamptz'),
    expiresAt: p.datetime().columnType('timestamptz'),
    revokedAt: p.datetime().columnType('timestamptz').nullable(),
    replacedBy: p.string().length(64).nullable(),
  }),
});
export type RefreshToken = InferEntity<typeof RefreshToken>;

/** The DEV signing key, kept so a restart does not sign everyone out. One row at most (id = 1). */
export const SigningKey = defineEntity({
  name: 'SigningKey',
  tableName: 'signing_key',
  properties: (p) => ({
    id: p.smallint().primary(),
    kid: p.string().length(64),
    privateKey: p.text().hidden(),
    createdAt: p.datetime().columnType('timestamptz'),
  }),
});
export type SigningKey = InferEntity<typeof SigningKey>;
