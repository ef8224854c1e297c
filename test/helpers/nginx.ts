import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RunningDaemon, startDaemon } from './daemon.js';

/** The system nginx (Debian puts it in /usr/sbin, not always on a test's PATH). */
export const NGINX = process.env.VTP_NGINX ?? '/usr/sbin/nginx';

export interface RunningNginx extends RunningDaemon {
  /** `http://127.0.0.1:{port}` */
  readonly url: string;
}

/**
 * Starts nginx in the foreground with the configuration `conf(dir, port)` returns, `dir` a new
 * temp directory and `port` a free loopback port; resolves once it accepts connections.
 */
export async function startNginx(
  conf: (dir: string, port: number) => string,
): Promise<RunningNginx> {
  const daemon = await startDaemon({
    name: 'nginx',
    async command(dir, port) {
      const confPath = join(dir, 'nginx.conf');
      await writeFile(confPath, conf(dir, port));
      const startupLog = join(dir, 'startup.log');
      return {
        file: NGINX,
        args: ['-c', confPath, '-p', dir, '-e', startupLog, '-g', 'daemon off;'],
      };
    },
    detail: (dir) => readFile(join(dir, 'startup.log'), 'utf8'),
  });
  return { ...daemon, url: `http://127.0.0.1:${daemon.port}` };
}
