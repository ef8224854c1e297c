// The live dashboard: polls the control API every two seconds and redraws. Viewer rows are
// capped (filter to find others) so a stream with thousands of viewers stays responsive.
(() => {
  const PROFILES = ['VeryLow', 'Low', 'Medium', 'High'];
  const POLL_MS = 2000;
  const MAX_ROWS = 300;
  const HISTORY = 300; // points kept per chart: 10 minutes at one per 2 s

  const $ = (id) => document.getElementById(id);
  const esc = (value) =>
    String(value).replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
    );
  const mb = (bytes) => (bytes / 1e6).toFixed(1);
  let selected = null;
  const series = { time: [], profiles: PROFILES.map(() => []), buffer: [] };
  let charts = null;

  // Viewer rows are private to the operator: with an admin token configured, the dashboard sends
  // the one typed below (kept for this browser tab only).
  const TOKEN_KEY = 'vtp-admin-token';
  const headers = () => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { authorization: `Bearer ${token}` } : {};
  };

  // The attendance report needs the admin token when one is set, which a plain link cannot
  // send: the click fetches the CSV with it and hands the browser the file.
  async function downloadReport(recordingId) {
    const path = `/api/v1/streams/${encodeURIComponent(recordingId)}/report`;
    const response = await fetch(path, { headers: { ...headers(), accept: 'text/csv' } });
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement('a');
    link.href = url;
    link.download = `attendance-${recordingId.replace(/[^A-Za-z0-9._-]/g, '_')}.csv`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  async function get(path) {
    const response = await fetch(path, { headers: headers() });
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return response.json();
  }

  function tile(label, value, alert) {
    return `<div class="tile"><div class="label">${esc(label)}</div><div class="value${alert ? ' alert' : ''}">${esc(value)}</div></div>`;
  }

  function renderSystem(metrics, health) {
    const q = metrics.delivery_queue;
    $('system').innerHTML = [
      tile('Health', health.status, health.status !== 'healthy'),
      tile('Live streams', metrics.live_streams),
      tile('Active viewers', metrics.total_active_viewers),
      tile('Segments served', metrics.total_segments_served),
      tile('MB served', mb(metrics.total_bytes_served)),
      tile(
        'Delivery failures',
        metrics.total_delivery_failures,
        metrics.total_delivery_failures > 0,
      ),
      tile('CDN hit rate', `${(metrics.cdn_cache_hit_rate * 100).toFixed(1)} %`),
      tile('Delivery queue', `${q.queued} / ${q.capacity}`),
      tile(
        'Encoders behind real time',
        metrics.encoders.behind_real_time,
        metrics.encoders.behind_real_time > 0,
      ),
    ].join('');
  }

  // Push delivery (--cdn-push-targets): one row per target, the section hidden without any.
  function renderPush(push) {
    $('push').hidden = !push;
    if (!push) return;
    $('push-targets').innerHTML = push.targets
      .map((t) => {
        const state = t.up ? 'up' : '<span class="badge alert">down</span>';
        const success = t.last_success_at ? new Date(t.last_success_at).toLocaleTimeString() : '–';
        return `<tr><th scope="row">${esc(t.target)}</th><td>${state}</td>
          <td class="num">${t.segments_pushed}</td><td class="num">${t.playlists_pushed}</td>
          <td class="num">${mb(t.bytes_pushed)}</td><td class="num">${t.failed_attempts}</td>
          <td class="num${t.failures > 0 ? ' alert' : ''}">${t.failures}</td>
          <td class="num${t.dropped > 0 ? ' alert' : ''}">${t.dropped}</td><td class="num">${t.backlog}</td>
          <td>${esc(success)}</td><td>${esc(t.last_error ?? '–')}</td></tr>`;
      })
      .join('');
  }

  function encoderCell(encoder) {
    if (!encoder) return '–';
    const speed = encoder.speed === null ? '–' : `${encoder.speed.toFixed(2)}×`;
    const behind = encoder.behind_real_time
      ? ' <span class="badge alert">behind real time</span>'
      : '';
    const restarts = encoder.restarts ? `, ${encoder.restarts} restarts` : '';
    return `${esc(encoder.state)} ${speed}${restarts}${behind}`;
  }

  // m:ss under an hour, h:mm:ss beyond: how long the lecturer has been on air.
  function clock(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  }

  // The lecturer's publish from OBS. `now` is the server's time of the answer, so "since" does
  // not depend on this browser's clock.
  function ingestCell(ingest, status, now) {
    if (!ingest) return '—';
    const reconnects = ingest.reconnects
      ? [`${ingest.reconnects} ${ingest.reconnects === 1 ? 'reconnect' : 'reconnects'}`]
      : [];
    if (!ingest.connected) {
      const state = status === 'live' ? 'waiting for the lecturer' : 'not publishing';
      return [`<span class="badge fair">${esc(state)}</span>`, ...reconnects.map(esc)].join(' · ');
    }
    const picture =
      ingest.width !== null && ingest.height !== null ? `${ingest.width}×${ingest.height}` : null;
    // The rate is measured from frame timestamps (30.01 for a steady 30): one decimal is enough.
    const fps = ingest.fps === null ? null : `${Number(ingest.fps.toFixed(1))} fps`;
    const kbps = ingest.bitrate_kbps;
    const parts = [
      ingest.protocol === null ? 'connected' : ingest.protocol.toUpperCase(),
      picture && fps ? `${picture} @ ${fps}` : (picture ?? fps),
      kbps === null ? null : kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mb/s` : `${kbps} kb/s`,
      ingest.connected_since === null
        ? null
        : `since ${clock(Date.parse(now) - Date.parse(ingest.connected_since))}`,
      ...reconnects,
    ];
    const codecs = [ingest.video_codec, ingest.audio_codec].filter((c) => c !== null).join(' / ');
    const text = esc(parts.filter((p) => p !== null).join(' · '));
    return codecs ? `<span title="${esc(codecs)}">${text}</span>` : text;
  }

  function renderStreams(streams, now) {
    $('streams').innerHTML = streams
      .map((s) => {
        const perProfile = PROFILES.map((p) => `${p} ${s.viewers_by_profile[p]}`).join(' · ');
        const id = encodeURIComponent(s.recording_id);
        return `<tr><th scope="row">${esc(s.recording_id)}</th><td>${esc(s.status)}</td>
          <td class="num">${s.active_viewers}</td><td class="num">${s.peak_viewers}</td><td>${perProfile}</td>
          <td class="num">${s.average_buffer_health ?? '–'}</td><td class="num">${s.total_segments_served}</td>
          <td class="num">${mb(s.total_bytes_served)}</td><td>${encoderCell(s.encoder)}</td>
          <td class="ingest">${ingestCell(s.ingest, s.status, now)}</td>
          <td><a href="/watch/${id}">watch</a> · <a href="/api/v1/streams/${id}/report" data-report="${esc(s.recording_id)}">attendance (CSV)</a></td></tr>`;
      })
      .join('');
    const select = $('stream-select');
    const ids = streams.map((s) => s.recording_id);
    if (
      select.options.length !== ids.length ||
      [...select.options].some((o, i) => o.value !== ids[i])
    ) {
      select.innerHTML = ids.map((id) => `<option value="${esc(id)}">${esc(id)}</option>`).join('');
    }
    if (!ids.includes(selected)) selected = ids[0] ?? null;
    if (selected) select.value = selected;
  }

  function renderViewers(stats) {
    const filter = $('filter').value.trim().toLowerCase();
    const rows = stats.viewers.filter(
      (v) =>
        !filter ||
        v.viewer_id.toLowerCase().includes(filter) ||
        v.current_bitrate.toLowerCase() === filter ||
        v.connection_quality === filter,
    );
    $('viewers-stream').textContent = stats.recording_id;
    const hidden = stats.viewers.length === 0 && stats.active_viewers > 0;
    $('viewer-count').textContent = hidden
      ? `${stats.active_viewers} viewers: their rows need the admin token`
      : rows.length > MAX_ROWS
        ? `showing ${MAX_ROWS} of ${rows.length} viewers`
        : `${rows.length} ${rows.length === 1 ? 'viewer' : 'viewers'}`;
    $('viewers').innerHTML = rows
      .slice(0, MAX_ROWS)
      .map(
        (v) => `<tr><th scope="row">${esc(v.viewer_id)}</th><td>${esc(v.current_bitrate)}</td>
          <td>${esc(v.recommended_bitrate ?? '–')}</td><td class="num">${v.buffer_health}</td>
          <td class="${esc(v.connection_quality)}">${esc(v.connection_quality)}</td>
          <td class="num">${v.segments_received}</td><td class="num">${mb(v.bytes_received)}</td>
          <td class="num">${(v.throughput_kbps / 1000).toFixed(1)}</td><td>${esc(v.duration)}</td>
          <td class="num">${v.bitrate_history.length}</td></tr>`,
      )
      .join('');
  }

  function chart(target, labels, colors) {
    const width = Math.max(320, target.clientWidth || 480);
    return new window.uPlot(
      {
        width,
        height: 220,
        series: [{}, ...labels.map((label, i) => ({ label, stroke: colors[i], width: 2 }))],
        axes: [{}, { size: 50 }],
      },
      [[], ...labels.map(() => [])],
      target,
    );
  }

  function renderCharts(stream) {
    if (!window.uPlot) return;
    if (!charts) {
      charts = {
        profiles: chart($('chart-profiles'), PROFILES, [
          '#8e24aa',
          '#1f6feb',
          '#2e7d32',
          '#ef6c00',
        ]),
        buffer: chart($('chart-buffer'), ['buffer health'], ['#1f6feb']),
      };
    }
    $('chart-stream').textContent = stream.recording_id;
    series.time.push(Date.now() / 1000);
    PROFILES.forEach((p, i) => {
      series.profiles[i].push(stream.viewers_by_profile[p]);
    });
    series.buffer.push(stream.average_buffer_health);
    if (series.time.length > HISTORY) {
      series.time.shift();
      for (const s of series.profiles) s.shift();
      series.buffer.shift();
    }
    charts.profiles.setData([series.time, ...series.profiles]);
    charts.buffer.setData([series.time, series.buffer]);
  }

  async function refresh() {
    try {
      const [metrics, health, list] = await Promise.all([
        get('/api/v1/distribution/metrics'),
        get('/api/v1/distribution/health'),
        get('/api/v1/streams'),
      ]);
      renderSystem(metrics, health);
      renderPush(metrics.cdn_push);
      renderStreams(list.streams, list.timestamp);
      const stream = list.streams.find((s) => s.recording_id === selected);
      if (stream) {
        renderCharts(stream);
        renderViewers(await get(`/api/v1/streams/${encodeURIComponent(selected)}?limit=1000`));
      }
      $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      $('updated').textContent = `Update failed: ${error.message}`;
    }
  }

  $('stream-select').addEventListener('change', (event) => {
    selected = event.target.value;
    series.time.length = 0;
    for (const s of series.profiles) s.length = 0;
    series.buffer.length = 0;
    refresh();
  });
  $('filter').addEventListener('input', () => refresh());
  $('streams').addEventListener('click', (event) => {
    const link = event.target.closest('a[data-report]');
    if (!link) return;
    event.preventDefault();
    downloadReport(link.dataset.report).catch((error) => {
      link.title = error.message;
    });
  });
  $('admin-token').value = sessionStorage.getItem(TOKEN_KEY) ?? '';

  $('admin-token').addEventListener('change', (event) => {
    sessionStorage.setItem(TOKEN_KEY, event.target.value.trim());
    refresh();
  });
  refresh();
  setInterval(refresh, POLL_MS);
})();
