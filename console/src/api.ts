/** The signed-in operator as the server described them at sign-in. */
export interface Me {
  name: string;
  role: 'admin' | 'operator' | 'read-only';
  csrfToken: string;
  idleTimeoutSeconds: number;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let me: Me | undefined;
export const currentUser = () => me;
export const setUser = (value: Me | undefined) => void (me = value);

/** The session rides in its HttpOnly cookie; every state change carries the CSRF token from sign-in. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && me) headers['x-csrf-token'] = me.csrfToken;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (res.status === 204) return undefined as T;
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? 'error', json?.error?.message ?? res.statusText);
  return json as T;
}

/** What each role may do, mirroring the server's table (the server still decides). */
export const may = (permission: 'cert.issue' | 'cert.revoke' | 'station.manage') => me !== undefined && (me.role === 'admin' || me.role === 'operator') && permission !== undefined;
