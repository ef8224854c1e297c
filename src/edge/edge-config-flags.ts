import { resolve } from 'node:path';
import { parseHostPort } from './addresses.js';
import {
  EDGE_CONFIG_DEFAULTS,
  EdgeConfigError,
  type EdgeConfigOptions,
  nginxEdgeConfig,
} from './nginx-config.js';

/** `vtp-live edge-config`'s flags as commander hands them over (camel-cased, strings). */
export interface EdgeConfigFlags {
  readonly origin?: string | undefined;
  readonly listen?: string | undefined;
  readonly cacheDir?: string | undefined;
  readonly reportTo?: string | undefined;
  readonly edgeName?: string | undefined;
  readonly accessLog?: string | undefined;
  readonly runDir?: string | undefined;
  readonly workers?: string | undefined;
  readonly workerConnections?: string | undefined;
  readonly cacheSize?: string | undefined;
  readonly user?: string | undefined;
  readonly originCaFile?: string | undefined;
}

/** One row per flag: its name, what --help says, and the option it sets. */
export const EDGE_CONFIG_FLAGS = [
  {
    flag: 'origin',
    value: 'url',
    option: 'origin',
    required: true,
    description: "the origin VTP Live's URL, http(s)://host[:port]",
  },
  {
    flag: 'listen',
    value: 'host:port',
    option: 'listen',
    required: true,
    description: 'address the edge serves viewers on (an IP, [::] style for IPv6)',
  },
  {
    flag: 'cache-dir',
    value: 'dir',
    option: 'cacheDir',
    required: true,
    description: 'directory of the cache (created by nginx; keep nothing else in it)',
  },
  {
    flag: 'report-to',
    value: 'host:port',
    option: 'reportTo',
    description:
      "the origin's --edge-reports address: every request's cache outcome goes there (syslog over UDP)",
  },
  {
    flag: 'edge-name',
    value: 'name',
    option: 'edgeName',
    description: "this edge's name in reports and metrics (default: its host name and port)",
  },
  {
    flag: 'access-log',
    value: 'file',
    option: 'accessLog',
    description: 'also write the report lines to this file',
  },
  {
    flag: 'run-dir',
    value: 'dir',
    option: 'runDir',
    description:
      "an existing directory for the pid file, temp files and error log, to run unprivileged (default: nginx's own paths)",
  },
  {
    flag: 'workers',
    value: 'n',
    option: 'workerProcesses',
    description: `nginx worker processes, or auto (default: ${EDGE_CONFIG_DEFAULTS.workerProcesses})`,
  },
  {
    flag: 'worker-connections',
    value: 'n',
    option: 'workerConnections',
    description: `connections per worker (default: ${EDGE_CONFIG_DEFAULTS.workerConnections})`,
  },
  {
    flag: 'cache-size',
    value: 'MiB',
    option: 'cacheSizeMiB',
    description: `largest size of the cache on disk in MiB (default: ${EDGE_CONFIG_DEFAULTS.cacheSizeMiB})`,
  },
  {
    flag: 'user',
    value: 'name',
    option: 'user',
    description: 'user the workers run as when nginx starts as root',
  },
  {
    flag: 'origin-ca-file',
    value: 'file',
    option: 'originCaFile',
    description: `PEM bundle of the CAs that sign an https origin's certificate (default: ${EDGE_CONFIG_DEFAULTS.originCaFile})`,
  },
] as const satisfies readonly {
  flag: string;
  value: string;
  option: keyof EdgeConfigOptions;
  required?: boolean;
  description: string;
}[];

/** A flag with a bad value; the message names it. */
export class EdgeFlagError extends Error {}

function flagOf(option: keyof EdgeConfigOptions): string {
  return `--${EDGE_CONFIG_FLAGS.find((row) => row.option === option)?.flag ?? option}`;
}

function whole(value: string, option: keyof EdgeConfigOptions, or = ''): number {
  if (!/^\d{1,9}$/.test(value)) {
    throw new EdgeFlagError(`${flagOf(option)} must be a whole number${or}, got '${value}'`);
  }
  return Number(value);
}

function address(value: string, option: keyof EdgeConfigOptions) {
  try {
    return parseHostPort(value);
  } catch (error) {
    throw new EdgeFlagError(`${flagOf(option)}: ${(error as Error).message}`);
  }
}

/**
 * The nginx.conf `vtp-live edge-config` prints for these flags; relative paths are taken from
 * `cwd`. Throws EdgeFlagError naming the flag at fault.
 */
export function edgeConfigFromFlags(flags: EdgeConfigFlags, cwd: string): string {
  for (const row of EDGE_CONFIG_FLAGS) {
    if ('required' in row && flags[camel(row.flag)] === undefined) {
      throw new EdgeFlagError(`--${row.flag} is required (${row.description})`);
    }
  }
  const path = (value: string | undefined) =>
    value === undefined ? undefined : resolve(cwd, value);
  const options: EdgeConfigOptions = {
    origin: flags.origin ?? '',
    listen: address(flags.listen ?? '', 'listen'),
    cacheDir: path(flags.cacheDir) ?? '',
    reportTo: flags.reportTo === undefined ? undefined : address(flags.reportTo, 'reportTo'),
    edgeName: flags.edgeName,
    accessLog: path(flags.accessLog),
    runDir: path(flags.runDir),
    originCaFile: path(flags.originCaFile),
    user: flags.user,
    ...(flags.workers !== undefined && {
      workerProcesses:
        flags.workers === 'auto' ? 'auto' : whole(flags.workers, 'workerProcesses', ' or auto'),
    }),
    ...(flags.workerConnections !== undefined && {
      workerConnections: whole(flags.workerConnections, 'workerConnections'),
    }),
    ...(flags.cacheSize !== undefined && {
      cacheSizeMiB: whole(flags.cacheSize, 'cacheSizeMiB'),
    }),
  };
  try {
    return nginxEdgeConfig(options);
  } catch (error) {
    if (error instanceof EdgeConfigError) {
      throw new EdgeFlagError(`${flagOf(error.field)}: ${error.message}`);
    }
    throw error;
  }
}

/** `cache-dir` → `cacheDir`, as commander names a flag's value. */
function camel(flag: string): keyof EdgeConfigFlags {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof EdgeConfigFlags;
}
