import type { CookieOptions, Request, Response } from 'express';
import type { TokenPair } from '../../domain/sessions';

export interface CookieSettings {
  /** RELEASE: cookies only over HTTPS. */
  secure: boolean;
  accessSeconds: number;
  refreshSeconds: number;
}

const base = (secure: boolean): CookieOptions => ({ httpOnly: true, sameSite: 'lax', secure, path: '/' });

/** The `access` and `refresh` cookies of sign-in, sign-up and refresh, for browser clients. */
export function setTokenCookies(res: Response, pair: TokenPair, settings: CookieSettings): void {
  res.cookie('access', pair.access, { ...base(settings.secure), maxAge: settings.accessSeconds * 1000 });
  res.cookie('refresh', pair.refresh, { ...base(settings.secure), maxAge: settings.refreshSeconds * 1000 });
}

export function clearTokenCookies(res: Response, settings: CookieSettings): void {
  res.clearCookie('access', base(settings.secure));
  res.clearCookie('refresh', base(settings.secure));
}

/** One cookie of the request; express has no cookie parser mounted, and one value is all we read. */
export function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0 || part.slice(0, at).trim() !== name) continue;
    const value = part.slice(at + 1).trim();
    try {
      return decodeURIComponent(value.replace(/^"(.*)"$/, '$1'));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
