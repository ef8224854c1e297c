import { type RunningNginx, startNginx } from './nginx.js';

/**
 * A real nginx load balancer in front of `origins` (their base URLs): one upstream, round
 * robin, as a deployment puts several origins behind one address. Each response names the
 * origin that answered in `X-Upstream`; an origin that refuses connections is skipped (nginx's
 * default `proxy_next_upstream error timeout`).
 */
export function startLoadBalancer(origins: readonly string[]): Promise<RunningNginx> {
  const servers = origins
    .map((origin) => `    server ${new URL(origin).host} max_fails=1 fail_timeout=60s;`)
    .join('\n');
  return startNginx(
    (dir, port) => `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream origins {
${servers}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 64m;
    location / {
      proxy_pass http://origins;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`,
  );
}
