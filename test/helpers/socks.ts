/**
 * Debian's `microsocks` as a second, independent SOCKS5 server for tests, when installed (the
 * suite does not depend on it: ./socks-server.ts is the project's own). It listens on
 * 127.0.0.1; its outgoing connections are bound to 127.0.0.2, so the test server can tell
 * proxied requests (from 127.0.0.2) from direct ones (from 127.0.0.1).
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { closedPort } from './loopback.js';
import { PROXIED_FROM } from './socks-server.js';
import type { AfterContext } from './tmp.js';
import { waitFor } from './tmp.js';

/** True when `microsocks` is installed (`apt-get install microsocks`). */
export function haveMicrosocks(): boolean {
  return spawnSync('microsocks', ['-h'], { stdio: 'ignore' }).error === undefined;
}

/** Start microsocks; resolves with its port once it accepts connections. Stopped when the test ends. */
export async function startMicrosocks(t: AfterContext): Promise<number> {
  const port = await closedPort(); // free when asked; microsocks takes it right after
  const child = spawn('microsocks', ['-i', '127.0.0.1', '-p', String(port), '-b', PROXIED_FROM], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  await waitFor('microsocks listening', () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    }),
  5_000);
  return port;
}
