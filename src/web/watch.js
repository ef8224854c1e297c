// The player page: joins as a viewer, plays the live stream with hls.js (sending CMCD), reports
// buffer health to the server every two seconds and applies the bitrate the server returns.
(() => {
  const PROFILES = ['VeryLow', 'Low', 'Medium', 'High'];
  // A full live buffer: three 2 s segments (hls.js plays three segments behind the live edge),
  // the same target the server uses for CMCD buffer length.
  const FULL_BUFFER_S = 6;
  const REPORT_MS = 2000;

  const $ = (id) => document.getElementById(id);
  const recordingId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
  const viewerId =
    new URLSearchParams(location.search).get('viewer') || `web-${crypto.randomUUID().slice(0, 8)}`;
  const video = $('video');
  // switches: the server's choices as applied; renditions: what hls.js actually played, in order.
  const state = {
    hls: null,
    sessionId: null,
    serverBitrate: null,
    switches: [],
    renditions: [],
    levels: [],
  };
  window.vtp = state; // for tests and the curious

  $('stream-name').textContent = recordingId;
  $('viewer').textContent = viewerId;

  // A playback token from the learning platform (?token=), when the server requires one.
  const token = new URLSearchParams(location.search).get('token');
  // The viewer's own session is its credential for its reports and its leave.
  const auth = () => (state.sessionId ? { authorization: `Bearer ${state.sessionId}` } : {});

  const api = async (method, path, body) => {
    const response = await fetch(path, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...auth() },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok)
      throw new Error(json.error?.message || `${method} ${path} answered ${response.status}`);
    return json;
  };

  const profileOfLevel = (level) =>
    PROFILES.find((p) => level.uri.includes(`/${p}/index.m3u8`)) || level.name;
  const levelOf = (profile) => state.levels.indexOf(profile);

  function recordSwitch(from, to, why) {
    const entry = { at: new Date().toISOString(), from, to, why };
    state.switches.push(entry);
    const item = document.createElement('li');
    item.textContent = `${entry.at.slice(11, 19)} ${from ?? '–'} → ${to} (${why})`;
    $('switches').prepend(item);
  }

  function bufferAhead() {
    const t = video.currentTime;
    for (let i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= t + 0.1 && t <= video.buffered.end(i))
        return video.buffered.end(i) - t;
    }
    return 0;
  }

  async function report() {
    if (!state.sessionId) return;
    const ahead = bufferAhead();
    const health = Math.min(100, Math.round((ahead / FULL_BUFFER_S) * 1000) / 10);
    $('buffer').textContent = `${ahead.toFixed(1)} s ahead`;
    try {
      const answer = await api('POST', '/api/v1/viewers/adapt-quality', {
        recording_id: recordingId,
        viewer_id: viewerId,
        buffer_health: health,
      });
      $('health').textContent = `${answer.buffer_health}`;
      $('quality').textContent = answer.connection_quality;
      $('quality').className = answer.connection_quality;
      apply(answer.new_bitrate, answer.switched ? 'server adaptation' : 'server');
    } catch (error) {
      $('status').textContent = `Report failed: ${error.message}`;
    }
  }

  /** Plays the profile the server chose (hls.js switches at the next segment boundary). */
  function apply(profile, why) {
    $('server-bitrate').textContent = profile;
    if (profile === state.serverBitrate) return;
    const index = levelOf(profile);
    if (index < 0) return;
    recordSwitch(state.serverBitrate, profile, why);
    state.serverBitrate = profile;
    state.hls.nextLevel = index;
  }

  async function start() {
    let joined;
    try {
      const query = token ? `?token=${encodeURIComponent(token)}` : '';
      joined = await api('POST', `/api/v1/streams/${encodeURIComponent(recordingId)}${query}`, {
        viewer_id: viewerId,
      });
    } catch (error) {
      $('status').textContent = `Could not join: ${error.message}`;
      $('status').className = 'error';
      return;
    }
    state.sessionId = joined.session_id;
    if (!window.Hls?.isSupported()) {
      $('status').textContent = 'This browser cannot play HLS with Media Source Extensions.';
      $('status').className = 'error';
      return;
    }
    const hls = new window.Hls({
      cmcd: { sessionId: joined.session_id, contentId: recordingId, useHeaders: false },
      liveSyncDurationCount: 3,
    });
    state.hls = hls;
    hls.on(window.Hls.Events.MANIFEST_PARSED, (_event, data) => {
      state.levels = data.levels.map(profileOfLevel);
      apply(joined.current_bitrate, 'join');
      video.play().catch(() => {});
      $('status').textContent = 'Playing live';
    });
    hls.on(window.Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const level = hls.levels[data.level];
      state.renditions.push(state.levels[data.level]);
      $('rendition').textContent =
        `${state.levels[data.level]} (${level.width}×${level.height}, ${Math.round(level.bitrate / 1000)} kbps)`;
    });
    hls.on(window.Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) $('status').textContent = `Playback error: ${data.details}`;
    });
    // The join hands out a ready URL: the session, and a playback token when one is needed.
    hls.loadSource(joined.playback_url);
    hls.attachMedia(video);
    setInterval(report, REPORT_MS);
    setInterval(() => {
      $('time').textContent = `${video.currentTime.toFixed(1)} s`;
    }, 500);
  }

  window.addEventListener('pagehide', () => {
    if (state.sessionId) {
      fetch(
        `/api/v1/streams/${encodeURIComponent(recordingId)}?viewer_id=${encodeURIComponent(viewerId)}`,
        { method: 'DELETE', keepalive: true, headers: auth() },
      );
    }
  });
  start();
})();
