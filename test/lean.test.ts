/**
 * The lean range reader (src/engine/range-reader.ts over src/http/lean-connection.ts): the
 * response-head parser on hand-made bytes, then downloads that worker threads fetch
 * (`threads: 1`) from the fault server: keep-alive reuse, a server that closes a connection
 * instead of answering its next request, a chunked 206 handed to undici, heads split across
 * reads while other connections' reads go through the thread's shared buffer, byte-exact each time.
 * The rest of the suite covers the lean path too: every download without a proxy or `-v` takes
 * it (plain HTTP in the main thread, from the probe's connection on); `npm run test:undici` runs
 * the fault, TLS, proxy, resume and batch suites again with everything through undici.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { download, type DownloadEvent } from '../src/index.js';
import { HeadError, MAX_HEAD_BYTES, parseHead } from '../src/http/response-head.js';
import { contentOf, sha256File } from './helpers/content.js';
import { gets, serve, type FileSpec } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const T = { timeout: 30_000 };
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('response head parser', () => {
  it('reads the status, the headers (lower-case, repeated ones as arrays) and where the body starts', () => {
    const buf = bytes('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-3/10\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length:4\r\n\r\nbody');
    const head = parseHead(buf, 0, buf.length);
    assert.deepEqual(head, {
      status: 206,
      headers: { 'content-range': 'bytes 0-3/10', 'set-cookie': ['a=1', 'b=2'], 'content-length': '4' },
      bodyStart: buf.length - 4,
    });
  });

  it('waits for the rest of a head split across reads', () => {
    const buf = bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.equal(parseHead(buf, 0, buf.length - 1), undefined);
    assert.equal(parseHead(buf, 0, buf.length)?.status, 200);
  });

  it('reads past 1xx answers (103 Early Hints, 100 Continue) to the final one', () => {
    const buf = bytes('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 206 Partial Content\r\nContent-Length: 1\r\n\r\nx');
    const head = parseHead(buf, 0, buf.length);
    assert.equal(head?.status, 206);
    assert.deepEqual(head?.headers, { 'content-length': '1' });
    assert.equal(buf.toString('latin1', head!.bodyStart), 'x');
  });

  it('refuses what is not an HTTP/1.x head, a malformed field, and a head past the limit', () => {
    for (const text of ['HTTP/2 200\r\n\r\n', 'ICY 200 OK\r\n\r\n', 'HTTP/1.1 20 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nbad header\r\n\r\n', 'HTTP/1.1 200 OK\r\nna me: x\r\n\r\n']) {
      const buf = bytes(text);
      assert.throws(() => parseHead(buf, 0, buf.length), HeadError, JSON.stringify(text));
    }
    const huge = bytes(`HTTP/1.1 200 OK\r\nx: ${'a'.repeat(MAX_HEAD_BYTES)}`);
    assert.throws(() => parseHead(huge, 0, huge.length), /larger than/);
  });
});

/** Download `path` (5 MiB unless the spec says) with small pieces; checks it is byte-exact. */
async function fetched(t: TestContext, spec: Omit<FileSpec, 'size'>, options = {}) {
  const server = await serve(t, { '/f.bin': { size: 5 * MiB + 3, ...spec } });
  const dir = await tempDir(t);
  const events: DownloadEvent[] = [];
  const result = await download(server.url('/f.bin'), { dir, connections: 4, threads: 1, minRangeSize: 256 * 1024, retries: 0, onEvent: (e) => events.push(e), ...options });
  assert.equal(await sha256File(result.path), server.sha256('/f.bin'));
  return { server, events };
}

describe('lean range reader', () => {
  it('keeps its connections from range to range (more requests than connections)', T, async (t) => {
    const { server } = await fetched(t, {});
    const ranges = gets(server).filter((r) => r.headers.range !== 'bytes=0-0');
    assert.ok(ranges.length > 4, `${ranges.length} range requests`);
    // The probe's connection, and one per slot: reused for every later range.
    assert.ok(server.stats.connections <= 1 + 4, `${server.stats.connections} connections for ${ranges.length} ranges`);
  });

  it('asks again on a new connection when the server closes a kept one instead of answering (no retry counted)', T, async (t) => {
    const { server, events } = await fetched(t, { faults: { oneGetPerConnection: true } });
    assert.deepEqual(events.filter((e) => e.type === 'retry'), [], 'retries: 0, and none was needed');
    assert.ok(server.stats.connections > 5, 'every range had a connection of its own');
  });

  it('hands a chunked 206 to undici, which reads it (junk past the range never written)', T, async (t) => {
    const { server } = await fetched(t, { faults: { extraBytes: 100 } });
    assert.ok(gets(server).every((r) => r.status === 206 || r.method !== 'GET'));
  });

  it('keeps a head split across reads apart from the buffer the other connections read into', T, async (t) => {
    const body = contentOf(7, 5 * MiB + 3);
    const port = await splitHeadServer(t, body);
    const dir = await tempDir(t);
    const result = await download(`http://127.0.0.1:${port}/f.bin`, { dir, connections: 4, minRangeSize: 256 * 1024, retries: 0 });
    assert.equal(await sha256File(result.path), createHash('sha256').update(body).digest('hex'));
  });
});

/**
 * A keep-alive HTTP/1.1 server on 127.0.0.1 whose every range answer sends the first half of its
 * head, then 20 ms later the rest with the body: meanwhile the other connections' bytes arrive.
 */
async function splitHeadServer(t: TestContext, body: Buffer): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const request = pending.toString('latin1', 0, end);
        pending = pending.subarray(end + 4);
        queue = queue.then(() => answer(socket, request, body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

async function answer(socket: net.Socket, request: string, body: Buffer): Promise<void> {
  const range = /^range: *bytes=(\d+)-(\d*)$/im.exec(request);
  const start = range ? Number(range[1]) : 0;
  const end = range?.[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
  const fields = [`Content-Length: ${end + 1 - start}`, 'Accept-Ranges: bytes', 'ETag: "split"', 'Connection: keep-alive'];
  if (range) fields.push(`Content-Range: bytes ${start}-${end}/${body.length}`);
  const head = Buffer.from(`HTTP/1.1 ${range ? '206 Partial Content' : '200 OK'}\r\n${fields.join('\r\n')}\r\n\r\n`, 'latin1');
  const payload = request.startsWith('HEAD ') ? Buffer.alloc(0) : body.subarray(start, end + 1);
  if (!range || socket.destroyed) return void socket.write(Buffer.concat([head, payload]));
  const half = head.length >> 1;
  socket.write(head.subarray(0, half));
  await new Promise((resolve) => setTimeout(resolve, 20));
  if (!socket.destroyed) socket.write(Buffer.concat([head.subarray(half), payload]));
}
