/** bench:publish results: what one round measured, its summary (pure), the table and the JSON. */

/** What a round measured, raw. */
export interface RoundMeasurement {
  readonly publishers: number;
  /** Per publisher, seconds from its spawn to a playable stream; null when it never became one. */
  readonly playableSeconds: readonly (number | null)[];
  /** Wall-clock length of the steady window. */
  readonly windowSeconds: number;
  /** CPU seconds used over the window. */
  readonly cpuSeconds: {
    /** The RTMP child (node-media-server) every publisher sends to. */
    readonly rtmpChild: number;
    /** The publishers' own ffmpeg processes (OBS's stand-ins). */
    readonly publishers: number;
    /** The ladder encoders, one per publish. */
    readonly ladders: number;
    /** The whole machine (busy time of all cores). */
    readonly machine: number;
  };
  readonly cores: number;
  /** Per ladder, one sample a second: ffmpeg's real-time factor and the recent one. */
  readonly encoder: {
    readonly speeds: readonly number[];
    readonly recentSpeeds: readonly number[];
    readonly behindSamples: number;
    readonly samples: number;
    readonly restarts: number;
  };
}

/** A round as the table and the JSON show it (CPU as % of one core). */
export interface RoundResult {
  readonly publishers: number;
  readonly playable: number;
  readonly playable_s_mean: number | null;
  readonly playable_s_max: number | null;
  readonly playable_s: readonly (number | null)[];
  readonly window_s: number;
  readonly rtmp_child_cpu_pct: number;
  readonly rtmp_child_cpu_pct_per_publisher: number;
  readonly publisher_ffmpeg_cpu_pct_per_publisher: number;
  readonly ladder_cpu_pct_per_publisher: number;
  /** RTMP child CPU / ladder CPU: what relaying costs next to encoding. */
  readonly rtmp_child_to_ladder_ratio: number | null;
  readonly machine_busy_pct: number;
  readonly cores: number;
  readonly ladder_speed_mean: number | null;
  readonly ladder_recent_speed_min: number | null;
  readonly ladder_behind_samples: number;
  readonly ladder_samples: number;
  readonly ladder_restarts: number;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const mean = (values: readonly number[]) =>
  values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;

/** Summarises a round: CPU seconds over the window become % of one core, totals per publisher. */
export function summariseRound(m: RoundMeasurement): RoundResult {
  const pct = (cpuSeconds: number) =>
    m.windowSeconds > 0 ? (cpuSeconds / m.windowSeconds) * 100 : 0;
  const perPublisher = (cpuSeconds: number) => round(pct(cpuSeconds) / m.publishers, 2);
  const playable = m.playableSeconds.filter((s): s is number => s !== null);
  const meanPlayable = mean(playable);
  const meanSpeed = mean(m.encoder.speeds);
  return {
    publishers: m.publishers,
    playable: playable.length,
    playable_s_mean: meanPlayable === null ? null : round(meanPlayable, 2),
    playable_s_max: playable.length === 0 ? null : round(Math.max(...playable), 2),
    playable_s: m.playableSeconds.map((s) => (s === null ? null : round(s, 2))),
    window_s: round(m.windowSeconds, 2),
    rtmp_child_cpu_pct: round(pct(m.cpuSeconds.rtmpChild), 2),
    rtmp_child_cpu_pct_per_publisher: perPublisher(m.cpuSeconds.rtmpChild),
    publisher_ffmpeg_cpu_pct_per_publisher: perPublisher(m.cpuSeconds.publishers),
    ladder_cpu_pct_per_publisher: perPublisher(m.cpuSeconds.ladders),
    rtmp_child_to_ladder_ratio:
      m.cpuSeconds.ladders > 0 ? round(m.cpuSeconds.rtmpChild / m.cpuSeconds.ladders, 4) : null,
    machine_busy_pct: round(pct(m.cpuSeconds.machine), 1),
    cores: m.cores,
    ladder_speed_mean: meanSpeed === null ? null : round(meanSpeed, 3),
    ladder_recent_speed_min:
      m.encoder.recentSpeeds.length === 0 ? null : round(Math.min(...m.encoder.recentSpeeds), 3),
    ladder_behind_samples: m.encoder.behindSamples,
    ladder_samples: m.encoder.samples,
    ladder_restarts: m.encoder.restarts,
  };
}

const shown = (value: number | null, digits: number) =>
  value === null ? 'n/a' : value.toFixed(digits);

/** The rounds as a markdown table, one row per number of publishers. */
export function markdownTable(rounds: readonly RoundResult[]): string {
  const lines = [
    '| publishers | playable | publish → playable s (mean / max) | RTMP child CPU % (all) | RTMP child % per publisher | publisher ffmpeg % per publisher | ladder % per publisher | RTMP child / ladder | ladder speed (mean) | recent speed (min) | samples behind | machine busy % (of N cores) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rounds) {
    const ratio =
      r.rtmp_child_to_ladder_ratio === null
        ? 'n/a'
        : `${(r.rtmp_child_to_ladder_ratio * 100).toFixed(1)} %`;
    lines.push(
      `| ${r.publishers} | ${r.playable}/${r.publishers} | ${shown(r.playable_s_mean, 1)} / ${shown(r.playable_s_max, 1)} | ${r.rtmp_child_cpu_pct.toFixed(1)} | ${r.rtmp_child_cpu_pct_per_publisher.toFixed(1)} | ${r.publisher_ffmpeg_cpu_pct_per_publisher.toFixed(1)} | ${r.ladder_cpu_pct_per_publisher.toFixed(1)} | ${ratio} | ${shown(r.ladder_speed_mean, 3)} | ${shown(r.ladder_recent_speed_min, 3)} | ${r.ladder_behind_samples}/${r.ladder_samples} | ${r.machine_busy_pct.toFixed(0)} (of ${r.cores}) |`,
    );
  }
  return lines.join('\n');
}
