// The Worker's settings, read from its bindings (wrangler.toml [vars], `wrangler secret put`, or
// workerd's fromEnvironment bindings) and checked once per isolate. A bad setting is a
// ConfigError naming the setting, never its value: the Worker then answers 500 misconfigured.

export class ConfigError extends Error {}

const TENANT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MIN_SECRET_BYTES = 32;  // as casebus-edge requires of tenant secrets
const encoder = new TextEncoder();

function text(env, name, { required = false } = {}) {
  const v = env[name];
  if (v === undefined || v === null || v === "") {
    if (required) throw new ConfigError(`${name} is not set`);
    return undefined;
  }
  if (typeof v !== "string") throw new ConfigError(`${name} must be a string`);
  return v;
}

function number(env, name, fallback, min, max) {
  const v = text(env, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${name} must be a number from ${min} to ${max}`);
  return n;
}

function json(env, name, required) {
  const v = text(env, name, { required });
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    throw new ConfigError(`${name} is not valid JSON`);
  }
}

function secret(name, value) {
  if (typeof value !== "string" || encoder.encode(value).length < MIN_SECRET_BYTES) {
    throw new ConfigError(`${name}: every secret must be a string of at least ${MIN_SECRET_BYTES} bytes`);
  }
  return value;
}

// TENANT_SECRETS: {"acme": "<secret>"} or, while a key rotates, {"acme": ["<old>", "<new>"]}:
// the Worker then sends one v1= per secret, as the edge accepts.
function tenantSecrets(env) {
  const raw = json(env, "TENANT_SECRETS", true);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError("TENANT_SECRETS must be a JSON object of tenant to secret");
  const out = new Map();
  for (const [tenant, v] of Object.entries(raw)) {
    if (!TENANT_NAME.test(tenant)) throw new ConfigError("TENANT_SECRETS: a tenant name is not 1-64 of a-z 0-9 _ - starting with a letter or digit");
    const list = Array.isArray(v) ? v : [v];
    if (list.length < 1 || list.length > 2) throw new ConfigError(`TENANT_SECRETS: tenant ${tenant} needs one or two secrets`);
    out.set(tenant, list.map((s) => secret(`TENANT_SECRETS (tenant ${tenant})`, s)));
  }
  if (out.size === 0) throw new ConfigError("TENANT_SECRETS names no tenant");
  return out;
}

// API_KEYS: {"<sha256 hex of the key>": "acme"}: server-side callers with an opaque bearer key,
// acting for a tenant and any of its customers (the body names the customer).
function apiKeys(env, tenants) {
  const raw = json(env, "API_KEYS", false);
  const out = new Map();
  if (raw === undefined) return out;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError("API_KEYS must be a JSON object of sha256 hex to tenant");
  for (const [hash, tenant] of Object.entries(raw)) {
    if (!SHA256_HEX.test(hash)) throw new ConfigError("API_KEYS: a key is not 64 lower-case hex digits (the SHA-256 of the API key)");
    if (typeof tenant !== "string" || !tenants.has(tenant)) throw new ConfigError("API_KEYS: a key's tenant has no entry in TENANT_SECRETS");
    out.set(hash, tenant);
  }
  return out;
}

function originUrl(env) {
  const v = text(env, "ORIGIN_URL", { required: true });
  let u;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError("ORIGIN_URL is not a URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new ConfigError("ORIGIN_URL must be http:// or https://");
  // The edge signs the path it receives: the Worker's path must reach it unchanged.
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username || u.password) {
    throw new ConfigError("ORIGIN_URL must be scheme://host[:port] only, without a path, query or credentials");
  }
  return u.origin;
}

export function parseConfig(env) {
  const tenants = tenantSecrets(env);
  const jwtSecrets = [];
  const jwtSecret = text(env, "JWT_SECRET");
  if (jwtSecret !== undefined) jwtSecrets.push(secret("JWT_SECRET", jwtSecret));
  const jwtPrevious = text(env, "JWT_SECRET_PREVIOUS");
  if (jwtPrevious !== undefined) jwtSecrets.push(secret("JWT_SECRET_PREVIOUS", jwtPrevious));
  const keys = apiKeys(env, tenants);
  if (jwtSecrets.length === 0 && keys.size === 0) throw new ConfigError("neither JWT_SECRET nor API_KEYS is set: no caller could authenticate");
  const jwt = jwtSecrets.length === 0 ? null : {
    secrets: jwtSecrets,
    issuer: text(env, "JWT_ISSUER", { required: true }),
    audience: text(env, "JWT_AUDIENCE", { required: true }),
    leewaySeconds: number(env, "JWT_LEEWAY_S", 30, 0, 300),
  };
  const originTimeoutMs = number(env, "ORIGIN_TIMEOUT_MS", 35000, 100, 600000);
  return {
    origin: originUrl(env),
    tenants,
    apiKeys: keys,
    jwt,
    maxBodyBytes: number(env, "MAX_BODY_BYTES", 32768, 256, 1048576),
    ratePerS: number(env, "RATE_PER_S", 1, 0.001, 1e6),
    rateBurst: number(env, "RATE_BURST", 10, 1, 1e6),
    originTimeoutMs,
    // Prefer: wait=N is capped so that the edge answers (200 or 202) before the Worker gives up.
    maxWaitS: Math.max(0, Math.floor(originTimeoutMs / 1000) - 5),
  };
}

const cache = new WeakMap();

// The settings of this env, parsed once; throws ConfigError.
export function config(env) {
  let c = cache.get(env);
  if (!c) {
    c = parseConfig(env);
    cache.set(env, c);
  }
  return c;
}
