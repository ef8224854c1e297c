/**
 * RTMP child process: node-media-server's RTMP listener only (no HTTP, API, store, record or
 * relay), forked by rtmp-server.ts. NMS is a well-kept RTMP implementation; running it in a child
 * keeps its parser and its memory away from the server process, and a crash here costs only the
 * live publishes (the supervisor restarts the child). Settings come from the environment
 * (port, bind host); stream keys travel only over the IPC channel, never argv, env or logs.
 * Each approved publish's ingest (bytes, codecs, picture size, frame rate) is reported by alias.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import {
  CHILD_ENV,
  type ChildMessage,
  MAX_RTMP_CONNECTIONS,
  type ParentMessage,
  redactStreamPaths,
  STATS_INTERVAL_MS,
  type StatsMessage,
} from './protocol.js';
import { type MediaPacket, PublishMedia, type SpsParsers } from './publish-media.js';
import { isStreamKeyFormat } from './stream-key.js';

/** The parts of NMS's (untyped, CommonJS) internals this entry touches. */
interface Session {
  id: string;
  ip: string;
  streamApp: string;
  streamName: string;
  streamPath: string;
  socket: Socket;
  /** Bytes received on this connection. */
  inBytes: number;
  /** What the client claimed in onMetaData (NMS copies it here as sent, any type). */
  videoCodec: unknown;
  videoWidth: unknown;
  videoHeight: unknown;
  videoFramerate: unknown;
  audioCodec: unknown;
  rtmp: { onPacketCallback(packet: MediaPacket): void };
  close(): void;
}
interface Broadcast {
  publisher: Session | null;
  subscribers: Map<string, Session>;
  getPublishStatus(): 'publishing' | 'reconnecting' | 'idle';
  _finishPublish(): void;
}
interface NmsContext {
  config: unknown;
  broadcasts: Map<string, Broadcast>;
  eventEmitter: NodeJS.EventEmitter;
}

const require = createRequire(import.meta.url);
const logger = require('node-media-server/src/core/logger.js') as {
  level: string;
  log(message: string, level?: string): void;
};
const Context = require('node-media-server/src/core/context.js') as NmsContext;
const NodeRtmpServer = require('node-media-server/src/server/rtmp_server.js') as new () => {
  tcpServer: import('node:net').Server;
  run(): void;
  stop(): void;
};
const Rtmp = require('node-media-server/src/protocol/rtmp.js') as {
  prototype: { parserData(buffer: Buffer): string | null };
};
const { parseH264Sps, parseH265Sps } = require('node-media-server/src/protocol/sps_info.js') as {
  parseH264Sps: SpsParsers['h264'];
  parseH265Sps: SpsParsers['hevc'];
};
const SPS: SpsParsers = { h264: parseH264Sps, hevc: parseH265Sps };

/** How long a publish waits for the supervisor's answer before it is refused (fail closed). */
const APPROVAL_TIMEOUT_MS = 800;
/** NMS has no idle timeout: a client that connects and sends nothing would stay forever. */
const IDLE_TIMEOUT_MS = 15_000;

// NMS's parser has no try/catch: a 'connect' whose tcUrl is not a URL throws out of the socket's
// data handler and kills the process. Turn a throw into the parser's error return (NMS then ends
// that socket only).
const parserData = Rtmp.prototype.parserData;
Rtmp.prototype.parserData = function (this: unknown, buffer: Buffer) {
  try {
    return parserData.call(this, buffer);
  } catch (e) {
    return `malformed RTMP message (${(e as NodeJS.ErrnoException).code ?? (e as Error).name})`;
  }
};

// NMS logs stream paths (which hold the key) at info and error level: keep warn and above, and
// redact paths and names from what remains.
logger.level = 'warn';
const log = logger.log.bind(logger);
logger.log = (message, level) => log(redactStreamPaths(String(message)), level);

const BIND_HOST = process.env[CHILD_ENV.host] ?? '127.0.0.1';

Context.config = {
  bind: BIND_HOST,
  rtmp: { port: Number(process.env[CHILD_ENV.port]) },
};

const send = (message: ChildMessage) => process.send?.(message);
const kill = (session: Session) => session.socket.destroy();
/**
 * The ladder pulls from loopback, or from the bound address itself when that is one address
 * (a server bound to 10.0.0.5 is not reachable on 127.0.0.1).
 */
const isLocal = (ip: string) =>
  /^(127\.|::ffff:127\.)/.test(ip) ||
  ip === '::1' ||
  ip === BIND_HOST ||
  ip === `::ffff:${BIND_HOST}`;

/** Pull paths ("/live/<alias>") of approved publishes: the only paths that can be played. */
const aliasPaths = new Set<string>();
/** Approved publishers by session id, with their alias. */
const approvedPublishes = new Map<string, { session: Session; alias: string }>();
/** What each publisher's media says (NMS reads onMetaData only; see publish-media.ts). */
const media = new WeakMap<Session, PublishMedia>();
/** Publishes waiting for the supervisor's answer, by session id. */
const pending = new Map<string, (answer: ParentMessage | undefined) => void>();

process.on('message', (message: ParentMessage) => {
  if (message.type === 'close') {
    // Its socket's close event ends the publish as a publisher leaving does ('ended').
    for (const { session, alias } of approvedPublishes.values())
      if (alias === message.alias) kill(session);
    return;
  }
  const answer = pending.get(message.id);
  if (answer) return answer(message);
  // Approved after the publish timed out: hand the alias back, so the supervisor ends it.
  if (message.type === 'approved') send({ type: 'ended', alias: message.alias });
});

function askApproval(session: Session): Promise<ParentMessage | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => answer(undefined), APPROVAL_TIMEOUT_MS);
    const answer = (message: ParentMessage | undefined) => {
      clearTimeout(timer);
      pending.delete(session.id);
      resolve(message);
    };
    pending.set(session.id, answer);
    send({ type: 'publish', id: session.id, key: session.streamName, local: isLocal(session.ip) });
  });
}

// NMS 4.x emits prePublish after it has answered NetStream.Publish.Start, and ignores the
// listener's result: a refusal is a destroyed socket.
Context.eventEmitter.on('prePublish', (session: Session) => {
  const broadcast = Context.broadcasts.get(session.streamPath);
  // A second publisher on a live path: NMS itself only refuses it after recording nothing; end it
  // now without asking (and without letting it take over a path in its reconnect window).
  const taken = broadcast?.publisher != null && broadcast.getPublishStatus() !== 'idle';
  if (taken || session.streamApp !== 'live' || !isStreamKeyFormat(session.streamName)) {
    setImmediate(() => kill(session));
    return;
  }
  watchMedia(session);
  void askApproval(session).then((answer) => {
    if (answer?.type !== 'approved') return kill(session);
    const path = `/live/${answer.alias}`;
    const approved = Context.broadcasts.get(session.streamPath);
    if (session.socket.destroyed || approved?.publisher !== session) {
      // The publisher left (or lost its path) while we asked: the approval is ended at once.
      kill(session);
      return send({ type: 'ended', alias: answer.alias });
    }
    // The local puller reads the alias path, so the key never leaves this process again.
    Context.broadcasts.set(path, approved);
    aliasPaths.add(path);
    approvedPublishes.set(session.id, { session, alias: answer.alias });
    sendStats(session, answer.alias);
  });
});

// NMS keeps a publish open 30 s after its publisher leaves (for a resume). A lecture's publish
// ends when its socket closes: close the pullers (they get EOF) and finish the publish now.
Context.eventEmitter.on('postPublish', (session: Session) => {
  session.socket.once('close', () => {
    const broadcast = Context.broadcasts.get(session.streamPath);
    if (broadcast?.publisher === session) {
      for (const subscriber of broadcast.subscribers.values()) subscriber.close();
      broadcast._finishPublish();
    }
    const alias = approvedPublishes.get(session.id)?.alias;
    if (alias === undefined) return; // refused or never approved
    approvedPublishes.delete(session.id);
    aliasPaths.delete(`/live/${alias}`);
    Context.broadcasts.delete(`/live/${alias}`);
    send({ type: 'ended', alias });
  });
});

/**
 * Reads the publisher's packets on their way to NMS's broadcast (from before approval: the
 * sequence header comes right after the publish starts), and reports the publish as soon as
 * its picture size is known.
 */
function watchMedia(session: Session): void {
  const found = new PublishMedia(SPS);
  media.set(session, found);
  const deliver = session.rtmp.onPacketCallback;
  session.rtmp.onPacketCallback = (packet) => {
    if (found.observe(packet)) {
      const alias = approvedPublishes.get(session.id)?.alias;
      if (alias !== undefined) sendStats(session, alias);
    }
    deliver(packet);
  };
}

function sendStats(session: Session, alias: string): void {
  const described = media.get(session)?.describe(session);
  const stats: StatsMessage = { type: 'stats', alias, bytesIn: session.inBytes, ...described };
  send(stats);
}

setInterval(() => {
  for (const { session, alias } of approvedPublishes.values()) sendStats(session, alias);
}, STATS_INTERVAL_MS).unref();

// Playing is for the local ladder only: from this host, on an alias path, never on a key path.
Context.eventEmitter.on('prePlay', (session: Session) => {
  if (!isLocal(session.ip) || !aliasPaths.has(session.streamPath)) kill(session);
});

const server = new NodeRtmpServer();
server.run();
server.tcpServer.maxConnections = MAX_RTMP_CONNECTIONS;
server.tcpServer.on('connection', (socket: Socket) =>
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy()),
);
server.tcpServer.once('listening', () => send({ type: 'ready' }));
// No orphan: the supervisor gone (or stopping us) means exit.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
