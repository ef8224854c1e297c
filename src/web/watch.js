// The player page: joins as a viewer, plays the live stream with hls.js (sending CMCD), reports
// buffer health and the throughput its downloads measured to the server every two seconds and
// applies the bitrate the server returns.
// A seek bar covers what the player may seek: a live stream's DVR window (README "DVR"), or the
// whole recording once the stream has ended (README "Recordings").
(() => {
  const PROFILES = ['VeryLow', 'Low', 'Medium', 'High'];
  // A full live buffer: three 2 s segments (hls.js plays three segments behind the live edge),
  // the same target the server uses for CMCD buffer length.
  const FULL_BUFFER_S = 6;
  const REPORT_MS = 2000;
  // A download in flight this long is sampled at a report (half a 2 s segment).
  const IN_FLIGHT_MS = 1000;
  const CMCD_KEYS = [
    'bl',
    'br',
    'bs',
    'cid',
    'd',
    'dl',
    'nor',
    'nrr',
    'ot',
    'pr',
    'rtp',
    'sf',
    'sid',
    'st',
    'su',
    'tb',
    'v',
  ];

  const $ = (id) => document.getElementById(id);
  const recordingId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
  const viewerId =
    new URLSearchParams(location.search).get('viewer') || `web-${crypto.randomUUID().slice(0, 8)}`;
  const video = $('video');
  // switches: the server's choices as applied; renditions: what hls.js actually played, in order.
  const state = {
    // 'live' or 'recording' once playback starts.
    mode: null,
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
    if (!response.ok) {
      const error = new Error(
        json.error?.message || `${method} ${path} answered ${response.status}`,
      );
      error.code = json.error?.code;
      throw error;
    }
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

  // The slowest segment download since the last report (kbit/s = bit/ms): one number a report
  // carries, and the slowest, so a link that just fell is not averaged away by a fast download
  // before it. A download still running counts what it has so far once it has run for a while,
  // so a link that collapses in the middle of a segment shows before that segment crawls in.
  let slowest = null;
  let inFlight = null;
  function sample(stats) {
    const end = stats.loading.end > 0 ? stats.loading.end : performance.now();
    const ms = end - stats.loading.start;
    if (!(stats.loading.start > 0) || !(ms >= 100) || !(stats.loaded > 0)) return;
    const kbps = (stats.loaded * 8) / ms;
    slowest = slowest === null ? kbps : Math.min(slowest, kbps);
  }

  async function report() {
    if (!state.sessionId) return;
    const ahead = bufferAhead();
    const health = Math.min(100, Math.round((ahead / FULL_BUFFER_S) * 1000) / 10);
    $('buffer').textContent = `${ahead.toFixed(1)} s ahead`;
    // A download running for half a segment or more says something (not its first round trip).
    if (inFlight && performance.now() - inFlight.loading.start > IN_FLIGHT_MS) sample(inFlight);
    const body = { recording_id: recordingId, viewer_id: viewerId, buffer_health: health };
    if (slowest !== null) body.throughput_kbps = Math.round(slowest);
    slowest = null;
    try {
      const answer = await api('POST', '/api/v1/viewers/adapt-quality', body);
      $('health').textContent = `${answer.buffer_health}`;
      $('quality').textContent = answer.connection_quality;
      $('quality').className = answer.connection_quality;
      apply(answer.new_bitrate, answer.switched ? 'server adaptation' : 'server');
    } catch (error) {
      $('status').textContent = `Report failed: ${error.message}`;
    }
  }

  /** Plays the profile the server chose, from the next segment on. */
  function apply(profile, why) {
    $('server-bitrate').textContent = profile;
    if (levelOf(profile) < 0) return;
    if (profile !== state.serverBitrate) recordSwitch(state.serverBitrate, profile, why);
    state.serverBitrate = profile;
    follow();
  }

  /**
   * hls.js stays in its automatic mode, capped at the server's choice and told to load that
   * choice next: the server decides, while hls.js keeps the one safeguard a server cannot give,
   * abandoning a download the link can no longer finish in time for a lower level. (A manual
   * level turns that off, and setting `nextLevel` also flushes what is buffered ahead.)
   */
  function follow() {
    const index = levelOf(state.serverBitrate);
    if (!state.hls || index < 0) return;
    state.hls.autoLevelCapping = index;
    state.hls.nextAutoLevel = index;
  }

  const seek = $('seek');
  // While the viewer drags, the bar shows where they point, not where playback is.
  let dragging = false;
  seek.addEventListener('input', () => {
    dragging = true;
    showPosition(Number(seek.value));
  });
  seek.addEventListener('change', () => {
    dragging = false;
    video.currentTime = Number(seek.value);
  });
  $('go-live').addEventListener('click', () => {
    const edge = state.hls?.liveSyncPosition;
    if (edge !== null && edge !== undefined) video.currentTime = edge;
  });

  const clockText = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    const hms = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
    return (hms[0] > 0 ? hms : hms.slice(1))
      .map((n, i) => (i ? String(n).padStart(2, '0') : n))
      .join(':');
  };

  /** What the player may seek: the playlist's DVR window while live, the whole recording after. */
  function seekableRange() {
    const ranges = video.seekable;
    if (ranges.length === 0) return null;
    const range = { start: ranges.start(0), end: ranges.end(ranges.length - 1) };
    return Number.isFinite(range.end) && range.end - range.start > 1 ? range : null;
  }

  function showPosition(t) {
    if (state.mode === 'live') {
      // hls.js plays a few segments behind the newest; that point counts as live.
      const edge = state.hls?.liveSyncPosition ?? seekableRange()?.end ?? t;
      const behind = edge - t;
      $('seek-label').textContent = behind < 4 ? 'Live' : `${clockText(behind)} behind live`;
      $('go-live').hidden = behind < 4;
    } else {
      $('seek-label').textContent = `${clockText(t)} / ${clockText(video.duration || 0)}`;
    }
  }

  function updateSeekBar() {
    const range = seekableRange();
    seek.disabled = !range;
    if (!range) {
      $('seek-label').textContent = '–';
      return;
    }
    seek.min = String(range.start);
    seek.max = String(range.end);
    if (!dragging) seek.value = String(video.currentTime);
    showPosition(dragging ? Number(seek.value) : video.currentTime);
  }

  function startClock() {
    setInterval(() => {
      $('time').textContent = `${video.currentTime.toFixed(1)} s`;
      updateSeekBar();
    }, 500);
  }

  function showRendition(hls, data) {
    const level = hls.levels[data.level];
    state.renditions.push(state.levels[data.level]);
    $('rendition').textContent =
      `${state.levels[data.level]} (${level.width}×${level.height}, ${Math.round(level.bitrate / 1000)} kbps)`;
  }

  /**
   * Plays the stream's recording from the start (a stream that ended, or is gone, may have
   * been recorded when the server keeps a data directory). False when there is none.
   */
  async function playRecording() {
    // A recording needs the same playback token as its live stream.
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    const url = `/vod/${encodeURIComponent(recordingId)}/master.m3u8${query}`;
    const found = await fetch(url).catch(() => null);
    if (!found?.ok) return false;
    state.mode = 'recording';
    $('player-title').textContent = 'Recording';
    video.setAttribute('aria-label', 'Lecture recording');
    if (!window.Hls?.isSupported()) {
      $('status').textContent = 'This browser cannot play HLS with Media Source Extensions.';
      $('status').className = 'error';
      return true;
    }
    const hls = new window.Hls({ startPosition: 0, ...outagePolicies() });
    state.hls = hls;
    hls.on(window.Hls.Events.MANIFEST_PARSED, (_event, data) => {
      state.levels = data.levels.map(profileOfLevel);
      video.play().catch(() => {});
      $('status').textContent = 'Playing the recording';
    });
    hls.on(window.Hls.Events.LEVEL_SWITCHED, (_event, data) => showRendition(hls, data));
    recoverFromOutages(hls, 'Playing the recording');
    hls.loadSource(url);
    hls.attachMedia(video);
    startClock();
    return true;
  }

  /**
   * hls.js settings that ride out an origin gone for a few seconds (a restart, a network blip).
   * hls.js retries a 5xx or a timeout but not a refused or reset connection (status 0), which is
   * what a restarting server gives: such a playlist or segment is asked for again every second,
   * for longer than a restart takes, before the error becomes fatal.
   */
  function outagePolicies() {
    const errorRetry = {
      maxNumRetry: 15,
      retryDelayMs: 500,
      maxRetryDelayMs: 1000,
      shouldRetry: (config, count, _timeout, response, retry) =>
        retry || (response?.code === 0 && count < config.maxNumRetry),
    };
    const policy = (name) => ({
      default: { ...window.Hls.DefaultConfig[name].default, errorRetry },
    });
    return {
      manifestLoadPolicy: policy('manifestLoadPolicy'),
      playlistLoadPolicy: policy('playlistLoadPolicy'),
      fragLoadPolicy: policy('fragLoadPolicy'),
    };
  }

  /**
   * Tells the student while the origin is away and, after a fatal error (the retries above ran
   * out, or the decoder failed), keeps asking again with a growing pause and recovers the
   * decoder, rather than leave them with a stopped video (hls.js API.md, "Fifth step: error
   * handling").
   */
  function recoverFromOutages(hls, playingText) {
    const { Events, ErrorTypes } = window.Hls;
    let pauseMs = 1000;
    let reconnecting = false;
    hls.on(Events.ERROR, (_event, data) => {
      if (data.type === ErrorTypes.NETWORK_ERROR) {
        reconnecting = true;
        $('status').textContent = 'Reconnecting…';
      }
      if (!data.fatal) return;
      if (data.type === ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else if (data.type === ErrorTypes.NETWORK_ERROR) {
        setTimeout(() => hls.startLoad(), pauseMs);
        pauseMs = Math.min(pauseMs * 2, 8000);
      } else {
        $('status').textContent = `Playback error: ${data.details}`;
      }
    });
    hls.on(Events.FRAG_LOADED, () => {
      pauseMs = 1000;
      if (!reconnecting) return;
      reconnecting = false;
      $('status').textContent = playingText;
    });
  }

  async function start() {
    let joined;
    try {
      const query = token ? `?token=${encodeURIComponent(token)}` : '';
      joined = await api('POST', `/api/v1/streams/${encodeURIComponent(recordingId)}${query}`, {
        viewer_id: viewerId,
      });
    } catch (error) {
      const over = error.code === 'STREAM_ENDED' || error.code === 'STREAM_NOT_FOUND';
      if (over && (await playRecording())) return;
      $('status').textContent = `Could not join: ${error.message}`;
      $('status').className = 'error';
      return;
    }
    state.sessionId = joined.session_id;
    state.mode = 'live';
    if (!window.Hls?.isSupported()) {
      $('status').textContent = 'This browser cannot play HLS with Media Source Extensions.';
      $('status').className = 'error';
      return;
    }
    const hls = new window.Hls({
      cmcd: {
        sessionId: joined.session_id,
        contentId: recordingId,
        useHeaders: false,
        // Every CMCD v1 key but `mtp`: hls.js puts its smoothed estimate there on every request,
        // and this page reports what each segment download measured instead (see report()).
        includeKeys: CMCD_KEYS,
      },
      liveSyncDurationCount: 3,
      ...outagePolicies(),
    });
    state.hls = hls;
    hls.on(window.Hls.Events.MANIFEST_PARSED, (_event, data) => {
      state.levels = data.levels.map(profileOfLevel);
      apply(joined.current_bitrate, 'join');
      video.play().catch(() => {});
      $('status').textContent = 'Playing live';
    });
    hls.on(window.Hls.Events.LEVEL_SWITCHED, (_event, data) => showRendition(hls, data));
    hls.on(window.Hls.Events.FRAG_LOADING, (_event, data) => {
      if (inFlight) sample(inFlight); // one given up: what it got counts
      inFlight = data.frag.stats;
    });
    hls.on(window.Hls.Events.FRAG_LOADED, (_event, data) => {
      sample(data.frag.stats);
      inFlight = null;
      // hls.js forgets a forced level once its fragment is loaded: the next one is the server's too.
      follow();
    });
    // hls.js gave up a download the link could not finish in time: the server hears it now, and
    // only it (it is the newest news of the link).
    hls.on(window.Hls.Events.FRAG_LOAD_EMERGENCY_ABORTED, () => {
      slowest = null;
      if (inFlight) sample(inFlight);
      inFlight = null;
      report();
    });
    recoverFromOutages(hls, 'Playing live');
    // The join hands out a ready URL: the session, and a playback token when one is needed.
    hls.loadSource(joined.playback_url);
    hls.attachMedia(video);
    setInterval(report, REPORT_MS);
    startClock();
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
