// The only code that talks to the server: the session token, transparent refresh, and
// turning error answers into readable sentences.
//
// The session token (a JWT) lives in sessionStorage: it dies with the tab and is never sent
// automatically (no cookie), so other sites cannot ride on it. The same token is the refresh
// credential: POST /api/internal/auth/jwt/refresh takes it, expired or not, within the
// server's grace period, and answers with the next generation (the old one stops working).

const TOKEN_KEY = 'shipstar.token';
// Refresh at most this long before expiry.
const REFRESH_MARGIN_SECS = 15;

/** An answer that was not 2xx, or a network failure (status 0). */
class ApiError extends Error {
  constructor(status, detail, retryAfter) {
    super(typeof detail === 'string' ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

/** A problem found in the page before any request, tied to one form field. */
class InputError extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

let signedOutHandler = () => {};
let refreshing = null;

/** Called with a message when the session can no longer be used. */
function onSignedOut(handler) {
  signedOutHandler = handler;
}

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

function forgetSession() {
  try {
    sessionStorage.clear();
  } catch {
    // Storage disabled: nothing was kept.
  }
}

/**
 * When to refresh a JWT before using it: a little before `exp` (a quarter of its lifetime, at
 * most REFRESH_MARGIN_SECS), so a request does not race the clock. Never when the claims cannot
 * be read: the token is then sent as is and a 401 triggers the refresh.
 */
function refreshDueAt(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return Infinity;
    return claims.exp - Math.min(REFRESH_MARGIN_SECS, (claims.exp - claims.iat) / 4);
  } catch {
    return Infinity;
  }
}

async function errorFrom(response) {
  let detail = null;
  try {
    detail = (await response.json()).detail;
  } catch {
    detail = response.statusText || null;
  }
  const retry = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  return new ApiError(response.status, detail, Number.isFinite(retry) ? retry : null);
}

async function send(method, path, { json, form, bearer } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  if (bearer) {
    headers.Authorization = `Bearer ${bearer}`;
  }
  try {
    return await fetch(path, {
      method,
      headers,
      body,
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, null, null);
  }
}

/** Rotates the session token. Concurrent callers share one refresh (one rotation). */
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const current = token();
      if (!current) {
        throw new ApiError(401, 'Unauthorized', null);
      }
      const response = await send('POST', '/api/internal/auth/jwt/refresh', { bearer: current });
      if (!response.ok) {
        throw await errorFrom(response);
      }
      storeToken((await response.json()).access_token);
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function endSession() {
  forgetSession();
  signedOutHandler('Your session has ended. Sign in again.');
}

async function refreshOrEnd() {
  try {
    await refresh();
  } catch (err) {
    if (err.status === 401) {
      endSession();
    }
    throw err;
  }
}

/**
 * Calls the internal API with the session token. An expired token is refreshed first, and a
 * 401 is answered by one refresh and one retry; if that fails, the session is over.
 * Resolves to the parsed JSON (null for 204) or, with `withTotal`, to {items, total}.
 */
async function api(method, path, options = {}) {
  if (!token()) {
    endSession();
    throw new ApiError(401, 'Unauthorized', null);
  }
  if (refreshDueAt(token()) <= Date.now() / 1000) {
    await refreshOrEnd();
  }
  let response = await send(method, path, { ...options, bearer: token() });
  if (response.status === 401) {
    await refreshOrEnd();
    response = await send(method, path, { ...options, bearer: token() });
    if (response.status === 401) {
      endSession();
    }
  }
  if (!response.ok) {
    throw await errorFrom(response);
  }
  if (response.status === 204) {
    return null;
  }
  const data = await response.json();
  if (options.withTotal) {
    const total = Number.parseInt(response.headers.get('X-Total-Count') || '', 10);
    return { items: data, total: Number.isFinite(total) ? total : data.length };
  }
  return data;
}

/** Signs in; resolves when the token is stored. Throws ApiError (400, 422, 429...). */
async function signIn(email, password) {
  const response = await send('POST', '/api/internal/auth/jwt/login', {
    form: { username: email, password },
  });
  if (!response.ok) {
    throw await errorFrom(response);
  }
  forgetSession();
  storeToken((await response.json()).access_token);
}

/** Revokes the session on the server (best effort), forgets it here, shows the sign-in page. */
async function signOut() {
  const current = token();
  forgetSession();
  if (current) {
    try {
      await send('POST', '/api/internal/auth/jwt/logout', { bearer: current });
    } catch {
      // Offline: the token is gone from this tab and expires on its own.
    }
  }
  signedOutHandler('You are signed out.');
}

const CODES = {
  LOGIN_BAD_CREDENTIALS: 'Wrong email or password.',
  LOGIN_USER_NOT_VERIFIED: 'This account is not verified yet. Ask an administrator.',
  CURRENT_PASSWORD_INCORRECT: 'The current password is not correct.',
  REGISTER_USER_ALREADY_EXISTS: 'A user with this email already exists.',
  Unauthorized: 'Your session has ended. Sign in again.',
  'Not Found': 'Not found.',
};

/** "period start", "entries 2 category" from a 422 `loc` (list positions counted from 1). */
function fieldName(loc) {
  if (!Array.isArray(loc)) return '';
  return loc
    .slice(1)
    .filter((part) => part !== 'content' || loc.length === 2)
    .map((part) => (typeof part === 'number' ? String(part + 1) : String(part).replace(/_/g, ' ')))
    .join(' ');
}

/** A sentence for an error, fit to show next to the form that caused it. */
function describe(err) {
  if (err instanceof InputError) {
    return err.message;
  }
  if (!(err instanceof ApiError)) {
    return 'Something went wrong in the page. Reload and try again.';
  }
  if (err.status === 0) {
    return 'Cannot reach the server. Check the connection and try again.';
  }
  if (err.status === 429) {
    const secs = err.retryAfter || 1;
    return `Too many requests. Try again in ${secs} second${secs === 1 ? '' : 's'}.`;
  }
  const detail = err.detail;
  if (typeof detail === 'string') {
    return CODES[detail] || detail;
  }
  if (Array.isArray(detail)) {
    return detail
      .map((problem) => {
        const field = fieldName(problem.loc);
        return field ? `${field}: ${problem.msg}` : problem.msg;
      })
      .join(' ');
  }
  if (detail && typeof detail === 'object' && typeof detail.reason === 'string') {
    return detail.reason;
  }
  if (err.status >= 500) {
    return 'The server could not do this right now. Try again in a moment.';
  }
  return `The request failed (HTTP ${err.status}).`;
}

/** Field names (last element of each 422 `loc`) with their messages. */
function fieldProblems(err) {
  if (err instanceof InputError) {
    return [{ field: err.field, msg: err.message }];
  }
  if (!(err instanceof ApiError) || !Array.isArray(err.detail)) {
    return [];
  }
  return err.detail.map((problem) => ({
    field: Array.isArray(problem.loc) ? String(problem.loc[problem.loc.length - 1]) : '',
    msg: problem.msg,
  }));
}
