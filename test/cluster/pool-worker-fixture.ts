/**
 * A stand-in HLS worker for the WorkerPool tests (a real cluster worker process): it speaks the
 * primary's IPC protocol (replica-messages.ts) but serves nothing. It notes every update it gets,
 * in order, and sends the list back (`test:received`, with the number of flushes it was asked
 * for) when the primary retires the stream `end`.
 */
import { isVtpMessage, type PrimaryMessage } from '../../src/cluster/replica-messages.js';

const received: string[] = [];
let flushes = 0;
const send = (message: object) => process.send?.(message);

process.on('message', (raw: unknown) => {
  if (!isVtpMessage(raw)) return;
  const message = raw as PrimaryMessage;
  switch (message.type) {
    case 'vtp:ready':
      received.push('ready');
      send({ type: 'vtp:listening', port: 1 });
      return;
    case 'vtp:flush':
      flushes++;
      send({ type: 'vtp:flushed', id: message.id });
      return;
    case 'vtp:drain':
      process.exit(0);
      return;
    case 'vtp:segment':
      received.push(`${message.recordingId}/${message.segment.sequence}`);
      return;
    case 'vtp:retired':
      if (message.recordingId === 'end') send({ type: 'test:received', received, flushes });
      return;
    default:
      received.push(message.type);
  }
});
process.once('disconnect', () => process.exit(0));
send({ type: 'vtp:hello' });
