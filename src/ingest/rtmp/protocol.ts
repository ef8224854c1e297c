/** Messages between the RTMP child (nms-entry.ts) and its supervisor (rtmp-server.ts), over fork IPC only. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'publish'; id: string; key: string }
  | { type: 'ended'; alias: string };

export type ParentMessage =
  | { type: 'approved'; id: string; alias: string }
  | { type: 'refused'; id: string };

/** Environment the supervisor sets for the child: never a secret (keys travel over IPC only). */
export const CHILD_ENV = { port: 'VTP_RTMP_PORT', host: 'VTP_RTMP_HOST' } as const;
