import { callerOf, requireUser } from '@imm/auth';
import { ValidationError } from '@imm/errors';
import { type OpenAPIRegistry, parseBody, parseId, registerRoute, route, send } from '@imm/web';
import { type Request, type RequestHandler, Router } from 'express';
import type { Accounts } from '../../domain/accounts';
import type { Sessions } from '../../domain/sessions';
import { jwksDocument, type SigningKeys } from '../../adapters/signing-keys';
import type { TokenService } from '../../adapters/jwt-tokens';
import { type CookieSettings, clearTokenCookies, cookieOf, setTokenCookies } from './cookies';
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
  userJson,
} from './schemas';

export interface AuthRoutesDeps {
  accounts: Accounts;
  sessions: Sessions;
  tokens: TokenService;
  keys: SigningKeys;
  cookies: CookieSettings;
}

const TAGS = ['auth'];
const COOKIES_SET = { 'Set-Cookie': '`access` and `refresh` HttpOnly cookies (SameSite=Lax; Secure in RELEASE)' };

/** The refresh token of a request: the body's, or else the cookie sign-in set. */
function refreshTokenOf(req: Request): string {
  const token = parseBody(refreshBody, req).refresh ?? cookieOf(req, 'refresh');
  if (!token) throw ValidationError.field('refresh', 'required');
  return token;
}

/** Clients' addresses, for throttling; behind the gateway, express's `trust proxy` makes this the client's. */
const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

export function authRoutes(deps: AuthRoutesDeps, registry: OpenAPIRegistry): Router {
  const { accounts, sessions, tokens, keys, cookies } = deps;
  const router = Router();
  const signedIn = requireUser(tokens.verifier);

  route(router, '/api/sign-up/', {
    post: async (req, res) => {
      const body = parseBody(signUpBody, req);
      const { user, token } = await accounts.signUp(
        {
          username: body.username,
          email: body.email,
          password: body.password,
          firstName: body.first_name,
          lastName: body.last_name,
        },
        addressOf(req),
      );
      setTokenCookies(res, token, cookies);
      send(res, { user: userJson(user), token }, 201);
    },
  });
  registerRoute(registry, {
    method: 'post',
    path: '/api/sign-up/',
    summary: 'Create an account and sign in',
    tags: TAGS,
    secured: false,
    body: signUpBody,
    success: { status: 201, description: 'The new user and its tokens', result: signedInSchema, headers: COOKIES_SET },
    errors: [400, 415, 429, 503],
  });

  const signIn: RequestHandler = async (req, res) => {
    const body = parseBody(signInBody, req);
    const { user, token } = await accounts.signIn(body.username, body.password, addressOf(req));
    setTokenCookies(res, token, cookies);
    send(res, { user: userJson(user), token });
  };
  for (const path of ['/api/sign-in/', '/api/log-in/']) {
    route(router, path, { post: signIn });
    registerRoute(registry, {
      method: 'post',
      path,
      summary: path === '/api/sign-in/' ? 'Sign in with username and password' : 'Sign in (alias of /api/sign-in/)',
      tags: TAGS,
      secured: false,
      body: signInBody,
      success: {
        status: 200,
        description: 'The user and a new token pair',
        result: signedInSchema,
        headers: COOKIES_SET,
      },
      errors: [400, 401, 415, 429, 503],
    });
  }

  route(router, '/api/token/refresh/', {
    post: async (req, res) => {
      const token = await sessions.rotate(refreshTokenOf(req));
      setTokenCookies(res, token, cookies);
      send(res, token);
    },
  });
  registerRoute(registry, {
    method: 'post',
    path: '/api/token/refresh/',
    summary: 'Exchange a refresh token for a new pair (the old refresh token is used up)',
    tags: TAGS,
    secured: false,
    body: refreshBody,
    success: { status: 200, description: 'A new token pair', result: tokenPairSchema, headers: COOKIES_SET },
    errors: [400, 401, 415],
  });

  const signOut: RequestHandler[] = [
    signedIn,
    async (req, res) => {
      await sessions.end(callerOf(req), refreshTokenOf(req));
      clearTokenCookies(res, cookies);
      send(res, {});
    },
  ];
  for (const path of ['/api/sign-out/', '/api/log-out/']) {
    route(router, path, { post: signOut });
    registerRoute(registry, {
      method: 'post',
      path,
      summary:
        path === '/api/sign-out/'
          ? "Sign out: revokes the refresh token's session and clears the cookies"
          : 'Sign out (alias of /api/sign-out/)',
      tags: TAGS,
      secured: true,
      body: refreshBody,
      success: { status: 200, description: 'Signed out', result: emptySchema },
      errors: [400, 401, 415],
    });
  }

  route(router, '/api/me/', {
    get: [
      signedIn,
      async (req, res) => {
        send(res, { user: userJson(await accounts.currentUser(callerOf(req).id)) });
      },
    ],
  });
  registerRoute(registry, {
    method: 'get',
    path: '/api/me/',
    summary: 'The signed-in user',
    tags: TAGS,
    secured: true,
    success: { status: 200, description: 'The caller', result: meSchema },
    errors: [401],
  });

  route(router, '/api/me/password/', {
    post: [
      signedIn,
      async (req, res) => {
        const body = parseBody(passwordChangeBody, req);
        await accounts.changePassword(
          callerOf(req),
          { oldPassword: body.old_password, newPassword: body.new_password },
          addressOf(req),
        );
        clearTokenCookies(res, cookies);
        send(res, {});
      },
    ],
  });
  registerRoute(registry, {
    method: 'post',
    path: '/api/me/password/',
    summary:
      'Change the password: every session of the user ends and its access tokens stop working at once (sign in again)',
    tags: TAGS,
    secured: true,
    body: passwordChangeBody,
    success: { status: 200, description: 'Changed; signed out everywhere', result: emptySchema },
    errors: [400, 401, 415, 429],
  });

  route(router, '/api/users/:id/deactivate/', {
    post: [
      signedIn,
      async (req, res) => {
        const user = await accounts.deactivate(callerOf(req), parseId(req.params.id));
        send(res, { user: userJson(user) });
      },
    ],
  });
  registerRoute(registry, {
    method: 'post',
    path: '/api/users/{id}/deactivate/',
    summary: 'Deactivate a user (superusers only): its sessions end and its access tokens stop working at once',
    tags: TAGS,
    secured: true,
    params: userIdParams,
    success: { status: 200, description: 'The deactivated user', result: meSchema },
    errors: [401, 403, 404],
  });

  route(router, '/api/auth/jwks.json', {
    get: (_req, res) => {
      // A standard document for verifiers, so not in the API envelope.
      res.set('Cache-Control', 'public, max-age=300').json(jwksDocument(keys));
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/auth/jwks.json',
    summary: 'The public keys that verify tokens (JWKS, RFC 7517; not in the envelope)',
    tags: TAGS,
    responses: {
      200: { description: 'The key set', content: { 'application/json': { schema: jwksSchema } } },
    },
  });

  return router;
}
