import { buildOpenApiDocument, errorEnvelopeSchema, OpenAPIRegistry, registerRoute } from '@imm/web';
import {
  emptySchema,
  jwksSchema,
  meSchema,
  passwordChangeBody,
  refreshBody,
  signedInSchema,
  signInBody,
  signUpBody,
  tokenPairSchema,
  userIdParams,
} from './schemas';

const tags = ['auth'];
const COOKIES_SET = { 'Set-Cookie': '`access` and `refresh` HttpOnly cookies (SameSite=Lax; Secure in RELEASE)' };

/** This service's part of the public OpenAPI document, served at GET /openapi.json. */
export function authOpenApi() {
  const registry = new OpenAPIRegistry();
  registerRoute(registry, {
    method: 'post',
    path: '/api/sign-up/',
    operationId: 'signUp',
    summary: 'Create an account and sign in',
    tags,
    secured: false,
    body: signUpBody,
    success: { status: 201, description: 'The new user and its tokens', result: signedInSchema, headers: COOKIES_SET },
    errors: [400, 415, 429, 503],
  });
  for (const [path, operationId, summary] of [
    ['/api/sign-in/', 'signIn', 'Sign in with username and password'],
    ['/api/log-in/', 'logIn', 'Sign in (alias of /api/sign-in/)'],
  ] as const) {
    registerRoute(registry, {
      method: 'post',
      path,
      operationId,
      summary,
      tags,
      secured: false,
      body: signInBody,
      success: {
        status: 200,
        description: 'The user and a new token pair',
        result: signedInSchema,
        headers: COOKIES_SET,
      },
      errors: [400, 401, 415, 429],
    });
  }
  registerRoute(registry, {
    method: 'post',
    path: '/api/token/refresh/',
    operationId: 'refreshToken',
    summary: 'Exchange a refresh token for a new pair (the old refresh token is used up)',
    tags,
    secured: false,
    body: refreshBody,
    success: { status: 200, description: 'A new token pair', result: tokenPairSchema, headers: COOKIES_SET },
    errors: [400, 401, 415],
  });
  for (const [path, operationId, summary] of [
    ['/api/sign-out/', 'signOut', "Sign out: revokes the refresh token's session and clears the cookies"],
    ['/api/log-out/', 'logOut', 'Sign out (alias of /api/sign-out/)'],
  ] as const) {
    registerRoute(registry, {
      method: 'post',
      path,
      operationId,
      summary,
      tags,
      secured: true,
      body: refreshBody,
      success: { status: 200, description: 'Signed out', result: emptySchema },
      errors: [400, 401, 415],
    });
  }
  registerRoute(registry, {
    method: 'get',
    path: '/api/me/',
    operationId: 'getMe',
    summary: 'The signed-in user',
    tags,
    secured: true,
    success: { status: 200, description: 'The caller', result: meSchema },
    errors: [401],
  });
  registerRoute(registry, {
    method: 'post',
    path: '/api/me/password/',
    operationId: 'changePassword',
    summary:
      'Change the password: every session of the user ends and its access tokens stop working at once (sign in again)',
    tags,
    secured: true,
    body: passwordChangeBody,
    success: { status: 200, description: 'Changed; signed out everywhere', result: emptySchema },
    errors: [400, 401, 415, 429],
  });
  registerRoute(registry, {
    method: 'post',
    path: '/api/users/{id}/deactivate/',
    operationId: 'deactivateUser',
    summary: 'Deactivate a user (superusers only): its sessions end and its access tokens stop working at once',
    tags,
    secured: true,
    params: userIdParams,
    success: { status: 200, description: 'The deactivated user', result: meSchema },
    errors: [401, 403, 404],
  });
  // A standard document for verifiers, so not in the envelope (registerRoute would wrap it).
  registry.registerPath({
    method: 'get',
    path: '/api/auth/jwks.json',
    operationId: 'getJwks',
    summary: 'The public keys that verify tokens (JWKS, RFC 7517; not in the envelope)',
    tags,
    security: [],
    responses: {
      200: { description: 'The key set', content: { 'application/json': { schema: jwksSchema } } },
      405: {
        description: 'Method not allowed (see `Allow`)',
        content: { 'application/json': { schema: errorEnvelopeSchema } },
      },
      406: {
        description: 'The Accept header rules out JSON',
        content: { 'application/json': { schema: errorEnvelopeSchema } },
      },
      500: {
        description: 'A fault of the server (`error_code` 0; the body never shows its details)',
        content: { 'application/json': { schema: errorEnvelopeSchema } },
      },
    },
  });
  return buildOpenApiDocument(registry, {
    title: 'imm-control auth',
    version: '1.0.0',
    description: 'Users and tokens. Served internally; the gateway merges it into /api/openapi.json.',
  });
}
