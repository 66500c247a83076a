# The Worker in workerd, Cloudflare's own runtime, on this machine: for a local run and for the
# end-to-end test (tests/process/worker_test.cpp), which uses this file as it is.
#
#   ORIGIN_URL=http://127.0.0.1:8080 TENANT_SECRETS='{"dev":"dev-secret-not-for-production-0123456789"}' \
#   JWT_SECRET=... JWT_ISSUER=... JWT_AUDIENCE=... \
#   node_modules/.bin/workerd serve workerd.capnp        # listens on 127.0.0.1:8787
#
# Every setting comes from an environment variable of the same name (fromEnvironment): the
# variables wrangler.toml sets under [vars] and the secrets `wrangler secret put` sets in
# production. An unset variable is null, and the Worker falls back to its default or, for a
# required one, answers 500 misconfigured. `--socket-addr http=HOST:PORT` or `--socket-fd http=FD`
# moves the listening socket.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The Worker's fetch() to ORIGIN_URL: loopback only here, so a local run reaches the local
    # edge and nothing else (in production, Cloudflare's network carries it to the origin).
    (name = "internet", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "src/worker.js"),
    (name = "auth.js", esModule = embed "src/auth.js"),
    (name = "config.js", esModule = embed "src/config.js"),
    (name = "jwt.js", esModule = embed "src/jwt.js"),
    (name = "rate_limiter.js", esModule = embed "src/rate_limiter.js"),
    (name = "redact.js", esModule = embed "src/redact.js"),
    (name = "routes.js", esModule = embed "src/routes.js"),
    (name = "sign.js", esModule = embed "src/sign.js"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "ORIGIN_URL", fromEnvironment = "ORIGIN_URL"),
    (name = "TENANT_SECRETS", fromEnvironment = "TENANT_SECRETS"),
    (name = "JWT_SECRET", fromEnvironment = "JWT_SECRET"),
    (name = "JWT_SECRET_PREVIOUS", fromEnvironment = "JWT_SECRET_PREVIOUS"),
    (name = "JWT_ISSUER", fromEnvironment = "JWT_ISSUER"),
    (name = "JWT_AUDIENCE", fromEnvironment = "JWT_AUDIENCE"),
    (name = "JWT_LEEWAY_S", fromEnvironment = "JWT_LEEWAY_S"),
    (name = "API_KEYS", fromEnvironment = "API_KEYS"),
    (name = "MAX_BODY_BYTES", fromEnvironment = "MAX_BODY_BYTES"),
    (name = "RATE_PER_S", fromEnvironment = "RATE_PER_S"),
    (name = "RATE_BURST", fromEnvironment = "RATE_BURST"),
    (name = "ORIGIN_TIMEOUT_MS", fromEnvironment = "ORIGIN_TIMEOUT_MS"),
    (name = "RATE_LIMITER", durableObjectNamespace = "CustomerRateLimiter"),
  ],
  durableObjectNamespaces = [
    (className = "CustomerRateLimiter", uniqueKey = "casebus-customer-rate-limiter"),
  ],
  # Buckets live in the objects' memory (rate_limiter.js); storage is never written.
  durableObjectStorage = (inMemory = void),
);
