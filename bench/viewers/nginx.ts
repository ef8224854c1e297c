/** Runs the system nginx as a non-daemon child serving a directory on a free loopback port. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stopChild, track } from './child-process.js';
import { freePort } from './free-port.js';
import { waitForHttp } from './wait-http.js';

export interface NginxServer {
  readonly origin: string;
  readonly pid: number;
  stop(): Promise<void>;
}

function nginxConf(dir: string, root: string, port: number): string {
  const asRoot = process.getuid?.() === 0;
  return `daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 65536;
${asRoot ? 'user root;' : ''}
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 16384; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 100000;
  open_file_cache max=10000 inactive=30s;
  open_file_cache_valid 30s;
  open_file_cache_errors off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  types {
    application/vnd.apple.mpegurl m3u8;
    video/mp2t ts;
  }
  server {
    listen 127.0.0.1:${port} reuseport;
    root ${root};
    # Playlists are replaced by rename: a cached descriptor would serve the old one.
    location ~ \\.m3u8$ {
      open_file_cache off;
      add_header Cache-Control "max-age=1";
    }
    location ~ \\.ts$ {
      add_header Cache-Control "public, max-age=3600";
    }
  }
}
`;
}

/** Starts nginx on `root`; config, pid and error log live in `dir`. */
export async function startNginx(dir: string, root: string): Promise<NginxServer> {
  const port = await freePort();
  await mkdir(dir, { recursive: true });
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, nginxConf(dir, root, port));
  const origin = `http://127.0.0.1:${port}`;
  return launchNginx({ dir, confPath, origin, readyUrl: `${origin}/master.m3u8` });
}

export interface NginxLaunch {
  /** Prefix directory: the error log goes here. */
  readonly dir: string;
  readonly confPath: string;
  readonly origin: string;
  /** Polled until nginx answers it (any status below 500 unless `readyStatus` says otherwise). */
  readonly readyUrl: string;
  readonly readyStatus?: (status: number) => boolean;
  /** Main-context directives added with `-g` (for configurations written by someone else). */
  readonly globals?: string;
}

/** Runs nginx in the foreground on `confPath` and waits until it answers `readyUrl`. */
export async function launchNginx(launch: NginxLaunch): Promise<NginxServer> {
  const errorLog = join(launch.dir, 'error.log');
  const args = ['-p', launch.dir, '-c', launch.confPath, '-e', errorLog];
  if (launch.globals) args.push('-g', launch.globals);
  const child: ChildProcess = track(spawn('nginx', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  try {
    await Promise.race([
      waitForHttp(launch.readyUrl, child, 10_000, launch.readyStatus),
      spawnFailed,
    ]);
  } catch (error) {
    await stopChild(child);
    const log = await readFile(errorLog, 'utf8').catch(() => '');
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`nginx did not start: ${reason}\n${stderr}${log}`.trim());
  }
  if (child.pid === undefined) throw new Error('nginx has no pid');
  return { origin: launch.origin, pid: child.pid, stop: () => stopChild(child) };
}
