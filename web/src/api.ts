// The console's calls to the gateway's /v1 API: the session cookie goes along by itself; every
// state-changing request adds the CSRF token. A 401 means the session expired: back to login.
export interface Me {
  name: string;
  admin: boolean;
  tags: Record<string, string>;
  csrf_token: string;
  can: Record<string, boolean>;
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public body: any) {
    super(message);
  }
}

let csrfToken = "";
let onExpired: () => void = () => {};

export function setCsrf(token: string): void {
  csrfToken = token;
}
export function onSessionExpired(handler: () => void): void {
  onExpired = handler;
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    if (response.status === 401 && path !== "/v1/auth/session") onExpired();
    throw new ApiError(response.status, error.code ?? "error", error.message ?? `HTTP ${response.status}`, data);
  }
  return data as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T = any>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = <T = any>(path: string) => api<T>("DELETE", path);

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.status === 403 ? `Not allowed: ${error.message}` : error.message;
  return error instanceof Error ? error.message : String(error);
}
