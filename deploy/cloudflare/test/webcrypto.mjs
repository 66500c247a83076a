// Node 18 (Debian 12's) has Web Crypto as node:crypto's webcrypto but not as the global `crypto`
// that Workers and Node 20+ have: the unit tests import this first.
import { webcrypto } from "node:crypto";

if (!globalThis.crypto?.subtle) globalThis.crypto = webcrypto;
