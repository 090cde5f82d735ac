/** The signed-in operator as the server described them at sign-in. */
export interface Me {
  name: string;
  role: 'admin' | 'operator' | 'read-only';
  /** What the role may do, from the server's permission table. */
  permissions: string[];
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
async function send(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  const all: Record<string, string> = { accept: 'application/json', ...headers };
  if (body !== undefined) all['content-type'] = 'application/json';
  if (method !== 'GET' && me) all['x-csrf-token'] = me.csrfToken;
  const res = await fetch(path, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (!res.ok) {
    const json = await res.json().catch(() => ({}));
    throw new ApiError(res.status, json?.error?.code ?? 'error', json?.error?.message ?? res.statusText);
  }
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await send(method, path, body, headers);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** The answer as text (a CSV file), for a route that offers it. */
export async function apiText(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<string> {
  return (await send(method, path, body, headers)).text();
}

/** The header that carries a fresh authenticator code for a high-impact action (the server's step-up). */
export const freshCodeHeader = (code: string) => ({ 'x-hallmark-totp': code });

/** What the operator's role may do (the server's table, sent at sign-in); the server still decides. */
export const may = (permission: string) => me?.permissions.includes(permission) ?? false;
