import { callerOf, requireUser } from '@imm/auth';
import { ValidationError } from '@imm/errors';
import { parseBody, parseId, route, send } from '@imm/web';
import { type Request, type RequestHandler, Router } from 'express';
import type { Accounts } from '../../domain/accounts';
import type { Sessions } from '../../domain/sessions';
import { jwksDocument, type SigningKeys } from '../../adapters/signing-keys';
import type { TokenService } from '../../adapters/jwt-tokens';
import { type CookieSettings, clearTokenCookies, cookieOf, setTokenCookies } from './cookies';
import { passwordChangeBody, refreshBody, signInBody, signUpBody, userJson } from './schemas';

export interface AuthRoutesDeps {
  accounts: Accounts;
  sessions: Sessions;
  tokens: TokenService;
  keys: SigningKeys;
  cookies: CookieSettings;
}

/** The refresh token of a request: the body's, or else the cookie sign-in set. */
function refreshTokenOf(req: Request): string {
  const token = parseBody(refreshBody, req).refresh ?? cookieOf(req, 'refresh');
  if (!token) throw ValidationError.field('refresh', 'required');
  return token;
}

/** Clients' addresses, for throttling; behind the gateway, express's `trust proxy` makes this the client's. */
const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** The routes; their description is in ./openapi.ts. */
export function authRoutes(deps: AuthRoutesDeps): Router {
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

  const signIn: RequestHandler = async (req, res) => {
    const body = parseBody(signInBody, req);
    const { user, token } = await accounts.signIn(body.username, body.password, addressOf(req));
    setTokenCookies(res, token, cookies);
    send(res, { user: userJson(user), token });
  };
  for (const path of ['/api/sign-in/', '/api/log-in/']) route(router, path, { post: signIn });

  route(router, '/api/token/refresh/', {
    post: async (req, res) => {
      const token = await sessions.rotate(refreshTokenOf(req));
      setTokenCookies(res, token, cookies);
      send(res, token);
    },
  });

  const signOut: RequestHandler[] = [
    signedIn,
    async (req, res) => {
      await sessions.end(callerOf(req), refreshTokenOf(req));
      clearTokenCookies(res, cookies);
      send(res, {});
    },
  ];
  for (const path of ['/api/sign-out/', '/api/log-out/']) route(router, path, { post: signOut });

  route(router, '/api/me/', {
    get: [
      signedIn,
      async (req, res) => {
        send(res, { user: userJson(await accounts.currentUser(callerOf(req).id)) });
      },
    ],
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

  route(router, '/api/users/:id/deactivate/', {
    post: [
      signedIn,
      async (req, res) => {
        const user = await accounts.deactivate(callerOf(req), parseId(req.params.id));
        send(res, { user: userJson(user) });
      },
    ],
  });

  route(router, '/api/auth/jwks.json', {
    get: (_req, res) => {
      // A standard document for verifiers, so not in the API envelope.
      res.set('Cache-Control', 'public, max-age=300').json(jwksDocument(keys));
    },
  });

  return router;
}
