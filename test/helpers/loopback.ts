/**
 * Listening on 127.0.0.1 and closing for good: what the test server and the test proxy
 * share. Every connection is tracked so that a close ends them all at once.
 */
import type * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Keep `socket` in `sockets` until it closes. */
export function track(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
}

/** A server listening on 127.0.0.1. */
export interface Listening {
  readonly port: number;
  /**
   * Stop listening and end every connection (idle or not); resolves once the server is
   * closed. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Track every connection of `server` in `sockets` (where the caller may {@link track} more),
 * drop clients that send garbage, and listen on 127.0.0.1 at a free port.
 */
export async function listenLoopback(server: http.Server, sockets = new Set<Socket>()): Promise<Listening> {
  // With TLS, 'connection' sees the raw TCP socket; destroying it ends the TLS one too.
  server.on('connection', (socket: Socket) => track(sockets, socket));
  server.on('clientError', (_err, socket) => {
    if (!socket.destroyed) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      if (!closing) {
        closing = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      }
      return closing;
    },
  };
}

/** A port on 127.0.0.1 that was just free and is closed again: nothing listens there (until someone takes it). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
