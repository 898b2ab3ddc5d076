/**
 * `rangeget demo`: a built-in loopback server that throttles each connection, as many real
 * servers do, then the same file fetched over one connection and over many. Shows in about
 * ten seconds, with no internet, what a range downloader is for.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download } from '../download.js';
import type { DownloadResult } from '../engine/events.js';
import { formatBytes } from './format.js';

const FILE_SIZE = 32 * 1024 * 1024;
/** Per-connection limit of the demo server, in bytes per second. */
const RATE = 4 * 1024 * 1024;
const SLICE = 64 * 1024;

/** Serve `body` with ranges, each response throttled to `rate` bytes per second. */
function serveThrottled(body: Buffer, rate: number, etag: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    let start = 0;
    let end = body.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    res.setHeader('accept-ranges', 'bytes');
    res.setHeader('etag', etag);
    res.setHeader('content-type', 'application/octet-stream');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]) + 1, body.length) : body.length;
      if (start >= end) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${body.length}`, 'content-length': end - start });
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const began = performance.now();
    let at = start;
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      if (at >= end) {
        res.end();
        return;
      }
      const chunk = body.subarray(at, Math.min(at + SLICE, end));
      at += chunk.length;
      const ok = res.write(chunk);
      // Next slice when the rate allows it, and when the socket has room.
      const due = began + ((at - start) / rate) * 1000 - performance.now();
      const next = (): void => {
        timer = setTimeout(send, Math.max(0, due));
      };
      if (ok) next();
      else res.once('drain', next);
    };
    res.on('close', () => clearTimeout(timer));
    send();
  };
}

/** Options of the demo. */
export interface DemoOptions {
  connections: number;
  stdout: NodeJS.WritableStream;
}

/** Run the demo; resolves to the exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { stdout, connections } = options;
  const body = randomFillSync(Buffer.allocUnsafe(FILE_SIZE));
  const digest = createHash('sha256').update(body).digest('hex');
  const server = createServer(serveThrottled(body, RATE, `"${digest.slice(0, 16)}"`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/demo.bin`;
  const dir = await mkdtemp(join(tmpdir(), 'rangeget-demo-'));
  const line = (text: string) => stdout.write(`${text}\n`);
  try {
    line(`rangeget demo: a ${formatBytes(FILE_SIZE)} file from a local server that limits each connection to ${formatBytes(RATE)}/s`);
    line(`  ${url}`);
    const runs: Array<{ label: string; result: DownloadResult }> = [];
    for (const [label, n] of [
      ['1 connection ', 1],
      [`${connections} connections`, connections],
    ] as const) {
      line(`downloading with ${label.trim()} ...`);
      const result = await download(url, {
        output: join(dir, `demo-${n}.bin`),
        connections: n,
        checksum: `sha256=${digest}`,
      });
      runs.push({ label, result });
      const speed = result.size / (result.duration / 1000);
      line(`  ${label}: ${(result.duration / 1000).toFixed(1)} s, ${formatBytes(speed)}/s, sha256 verified`);
    }
    const [one, many] = runs;
    if (one && many) {
      line(`${connections} connections were ${(one.result.duration / many.result.duration).toFixed(1)}x faster than one, byte-exact.`);
    }
    line('Try it on a real file: rangeget -c 16 https://example.com/big.iso');
    return 0;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}
