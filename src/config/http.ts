import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from './load';
import type { Config } from './schema';

/** The shortest TRL_AUTH_TOKEN accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_TOKEN_LENGTH = 32;

/** HTTP settings checked and ready to use. The token is held here and nowhere else. */
export interface HttpSettings {
  /** Where to bind; null when systemd passed the listening socket. */
  bind: { host: string; port: number } | null;
  /** Human-readable, for logs (never contains the token). */
  where: string;
  /** The bind address is a loopback address (127.0.0.0/8, ::1, localhost). Unknown (null) for a passed socket. */
  loopback: boolean | null;
  tls: { cert: Buffer; key: Buffer } | null;
  token: string;
}

/**
 * Why a token is unacceptable, or null if it is fine. Never includes the
 * token itself; `trl doctor` uses it too.
 */
export function tokenProblem(token: string | undefined): string | null {
  if (token === undefined || token === '') {
    return 'TRL_AUTH_TOKEN is not set; HTTP clients would be unauthenticated. Set it (environment or env file, never a flag) to a random secret of at least ' +
      `${MIN_TOKEN_LENGTH} characters, e.g. \`openssl rand -hex 32\`, or turn HTTP off`;
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    return `TRL_AUTH_TOKEN is too short (${token.length} characters, at least ${MIN_TOKEN_LENGTH} required) to be a secret; ` +
      'use a random one, e.g. `openssl rand -hex 32`';
  }
  if (!/^[\x21-\x7e]+$/.test(token)) {
    return 'TRL_AUTH_TOKEN contains spaces, control or non-ASCII characters, which cannot travel in an Authorization header; use a random hex or base64 string';
  }
  return null;
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Parses TRL_HTTP_LISTEN: `HOST:PORT`, `[V6]:PORT`, or a bare `PORT` (then the
 * host is 127.0.0.1). A non-loopback host must be written out; there is no
 * "all interfaces" default.
 */
function parseHttpListen(value: string): { host: string; port: number } {
  const bad = (why: string) =>
    new ConfigError(`TRL_HTTP_LISTEN (--http-listen) ${JSON.stringify(value)}: ${why}; expected HOST:PORT such as 127.0.0.1:8787, [::1]:8787, or a bare port (loopback)`);
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
    if (isIP(host) !== 6) throw bad(`${host} is not an IPv6 address`);
  } else if (/^\d+$/.test(value)) {
    host = '127.0.0.1';
    portText = value;
  } else {
    const i = value.lastIndexOf(':');
    if (i <= 0) throw bad('no port');
    host = value.slice(0, i);
    portText = value.slice(i + 1);
    if (host.includes(':')) throw bad('an IPv6 address must be in brackets');
    if (!/^\d+$/.test(portText)) throw bad('the port is not a number');
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad('the port must be 0…65535');
  return { host, port };
}

/**
 * Checks the HTTP settings. Returns null when HTTP is off (no TRL_HTTP_LISTEN
 * and no activated `http` socket). Throws ConfigError — before anything is
 * bound — when HTTP is on without a usable token, with a malformed address, or
 * with half of the TLS pair / unreadable TLS files. Messages name settings,
 * never their values.
 */
export function validateHttpConfig(config: Config, opts: { activated?: boolean } = {}): HttpSettings | null {
  const activated = opts.activated ?? false;
  if (!config.http_listen && !activated) return null;
  const problem = tokenProblem(config.auth_token);
  if (problem !== null) throw new ConfigError(`HTTP is enabled (${activated ? 'systemd passed an "http" socket' : 'TRL_HTTP_LISTEN'}) but ${problem}`);
  const bind = activated ? null : parseHttpListen(config.http_listen!);

  let tls: HttpSettings['tls'] = null;
  if (config.http_tls_cert !== undefined || config.http_tls_key !== undefined) {
    if (config.http_tls_cert === undefined || config.http_tls_key === undefined) {
      throw new ConfigError('TRL_HTTP_TLS_CERT and TRL_HTTP_TLS_KEY must be set together (PEM certificate and its private key); set both or neither');
    }
    tls = { cert: readPem(config.http_tls_cert, 'TRL_HTTP_TLS_CERT'), key: readPem(config.http_tls_key, 'TRL_HTTP_TLS_KEY') };
  }
  const scheme = tls ? 'https' : 'http';
  return {
    bind,
    where: bind ? `${scheme}://${bind.host.includes(':') ? `[${bind.host}]` : bind.host}:${bind.port}` : `${scheme} on a socket passed by systemd`,
    loopback: bind ? isLoopback(bind.host) : null,
    tls,
    token: config.auth_token!,
  };
}

function readPem(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${setting} ${path} cannot be read (${(err as NodeJS.ErrnoException).code}); make it readable by the daemon's user or unset ${setting}`);
  }
}
