import { Socket } from 'node:net';
import { callerDisconnectSignal } from './caller-disconnect.signal';

describe('callerDisconnectSignal', () => {
  it('is one signal per connection, aborted when the socket closes', async () => {
    const socket = new Socket();
    const first = callerDisconnectSignal(socket);
    const second = callerDisconnectSignal(socket);
    expect(second).toBe(first);
    expect(first.aborted).toBe(false);
    socket.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(first.aborted).toBe(true);
  });

  it('is aborted at once for a socket already destroyed', () => {
    const socket = new Socket();
    socket.destroy();
    expect(callerDisconnectSignal(socket).aborted).toBe(true);
  });
});
