import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

/**
 * The console's session cookie. `__Host-` pins it to this origin, path / and Secure (RFC 6265bis
 * §4.1.3.2); HttpOnly keeps it from scripts; SameSite=Strict keeps it off cross-site requests.
 */
export const SESSION_COOKIE = '__Host-hallmark-session';

export function sessionCookieOf(req: Request): string | undefined {
  const header = req.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      // A value that does not decode is returned as sent: it matches no session, so it is a 401.
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
  }
  return undefined;
}

export function setSessionCookie(res: Response, token: string, maxAgeSeconds: number): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; Max-Age=${Math.max(1, Math.floor(maxAgeSeconds))}; Secure; HttpOnly; SameSite=Strict`);
}

export function clearSessionCookie(res: Response): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict`);
}

/**
 * The anti-CSRF token of a session: derived from the session secret, so every instance computes the
 * same one without storing it, and a page can only learn it from a same-origin response. State
 * changes made with the cookie must echo it in `X-CSRF-Token` (synchronizer token, on top of SameSite).
 */
export const csrfTokenFor = (sessionToken: string) => createHash('sha256').update('hallmark-csrf\0').update(sessionToken).digest('base64url');

export function csrfMatches(sessionToken: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export const isSafeMethod = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
