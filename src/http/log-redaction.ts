import pino from 'pino';
import { redactSecrets } from '../service/redact.js';

interface LoggedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remoteAddress?: string; readonly remotePort?: number };
}

/**
 * Logger options that keep secrets out of every line: requests are logged without headers
 * (no Authorization) and with `key`, `token` and `session` masked in the URL; error messages,
 * stacks and log messages go through the same redaction, as do the `known` secrets.
 */
export function redactingLoggerOptions(
  known: readonly (string | undefined)[],
): Pick<pino.LoggerOptions, 'serializers' | 'hooks'> {
  const redact = (text: string) => redactSecrets(text, known);
  return {
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: req.url === undefined ? undefined : redact(req.url),
        host: req.host,
        remoteAddress: req.ip ?? req.socket?.remoteAddress,
        remotePort: req.socket?.remotePort,
      }),
      err: (error: Error) => {
        const out = pino.stdSerializers.err(error);
        out.message = redact(out.message);
        if (out.stack) out.stack = redact(out.stack);
        return out;
      },
    },
    hooks: {
      logMethod(args, method) {
        const clean = args.map((arg: unknown) => {
          if (typeof arg === 'string') return redact(arg);
          // Shallow: merging objects are small and flat; req and err have serializers above.
          if (
            arg !== null &&
            typeof arg === 'object' &&
            Object.getPrototypeOf(arg) === Object.prototype
          ) {
            return Object.fromEntries(
              Object.entries(arg).map(([k, v]) => [k, typeof v === 'string' ? redact(v) : v]),
            );
          }
          return arg;
        });
        method.apply(this, clean as Parameters<typeof method>);
      },
    },
  };
}
