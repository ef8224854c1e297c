import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../bench/viewers/free-port.js';
import { spawnDaemon, stopChild, untilAccepting } from './daemon.js';

/** The system nginx (Debian's `nginx` package, which has the WebDAV module). */
const NGINX =
  process.env.VTP_NGINX ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');

export interface WebDavTarget {
  /** Base URL the pusher PUTs under, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The directory nginx stores the pushed files in (the layout mirrors the URL paths). */
  readonly root: string;
  /** Stops nginx: the target goes down (connections refused), its files stay. */
  stop(): Promise<void>;
  /** Starts nginx again on the same port and files. */
  start(): Promise<void>;
  /** Stops nginx and removes its directory. */
  close(): Promise<void>;
}

/** Throws unless the installed nginx was built with the WebDAV module (PUT and DELETE). */
export function assertNginxHasDav(): void {
  // nginx -V prints how it was built on stderr.
  const built = spawnSync(NGINX, ['-V'], { encoding: 'utf8' });
  if (!`${built.stderr}`.includes('http_dav_module')) {
    throw new Error(
      `${NGINX} lacks http_dav_module: install the Debian package "nginx" (nginx-core or nginx-full on older releases)`,
    );
  }
}

function config(dir: string, root: string, port: number): string {
  return `daemon off;
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log ${path.join(dir, 'access.log')};
  client_body_temp_path ${path.join(dir, 'client_body')};
  proxy_temp_path ${path.join(dir, 'proxy')};
  fastcgi_temp_path ${path.join(dir, 'fastcgi')};
  uwsgi_temp_path ${path.join(dir, 'uwsgi')};
  scgi_temp_path ${path.join(dir, 'scgi')};
  types {
    application/vnd.apple.mpegurl m3u8;
    video/mp2t ts;
    video/mp4 mp4 m4s;
  }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    client_max_body_size 64m;
    location / {
      # A push CDN as a static file server: PUT writes a file (to a temporary one first, then
      # renamed into place, so a reader never sees half of it), DELETE removes one.
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
      open_file_cache off;
    }
  }
}
`;
}

/**
 * nginx with WebDAV PUT and DELETE on a loopback ephemeral port over a temporary directory: a
 * real push target. One process (`master_process off`), so stopping it stops everything.
 */
export async function startWebDavTarget(): Promise<WebDavTarget> {
  assertNginxHasDav();
  const dir = mkdtempSync(path.join(tmpdir(), 'vtp-webdav-'));
  const root = path.join(dir, 'www');
  mkdirSync(root);
  const port = await freePort();
  const confPath = path.join(dir, 'nginx.conf');
  writeFileSync(confPath, config(dir, root, port));
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const stop = async () => {
    const running = child;
    child = undefined;
    if (running) await stopChild(running);
  };

  const start = async () => {
    if (child) return;
    const errorLog = path.join(dir, 'error.log');
    const spawned = spawnDaemon(NGINX, ['-p', dir, '-c', confPath, '-e', errorLog], (started) =>
      untilAccepting(started, port, 'nginx'),
    );
    child = spawned.child;
    try {
      await spawned.ready;
    } catch (error) {
      await stop();
      const log = readFileSync(errorLog, { encoding: 'utf8', flag: 'a+' });
      throw new Error(
        `nginx did not start: ${(error as Error).message}\n${spawned.output()}${log}`,
      );
    }
  };

  await start();
  return {
    url,
    root,
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
