import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { sendError } from './web-auth';

/** Options of {@link securityHeaders}. */
export interface SecurityHeadersOptions {
  /** Allow `style` attributes and elements (Bull Board's UI uses them). @defaultValue false */
  readonly inlineStyles?: boolean;
}

/**
 * Headers for the dashboard and the console: a CSP that loads nothing from elsewhere and runs no
 * inline script, no framing (X-Frame-Options DENY and `frame-ancestors 'none'`: clickjacking),
 * no referrer to other sites, nosniff.
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: options.inlineStyles ? ["'self'", "'unsafe-inline'"] : ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts, which the CSRF check refuses.
    referrerPolicy: { policy: 'same-origin' },
    // The servers speak plain HTTP behind a TLS proxy, which sets HSTS itself.
    strictTransportSecurity: false,
  });
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * For servers without authentication on a loopback address: only requests naming a loopback host
 * are served. A page on another site whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding)
 * sends its own name in `Host` and is refused.
 */
export function loopbackHostOnly(): RequestHandler {
  return (req, res, next) => {
    const host = (req.get('host') ?? '').toLowerCase();
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
    if (LOOPBACK_NAMES.has(name) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return next();
    sendError(res, 421, 'FORBIDDEN', `this server has no authentication and answers only to a loopback Host, received ${JSON.stringify(host)}`);
  };
}
