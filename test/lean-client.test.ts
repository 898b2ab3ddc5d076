/**
 * The main thread's lean connections (src/http/lean-client.ts, lean-answer.ts, chunked.ts):
 * the chunked decoder on hand-made bytes split at every point, then a scripted raw TCP server
 * on 127.0.0.1 answering byte for byte as servers do: each framing of a body, keep-alive reuse,
 * a kept connection the server closed, 1xx heads, timeouts, an abort, bytes past the length.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { ChunkedDecoder, ChunkedError } from '../src/http/chunked.js';
import { LeanClient } from '../src/http/lean-client.js';
import type { ConnectionSettings } from '../src/http/dispatcher.js';

const settings: ConnectionSettings = { insecure: false, connectTimeout: 2000, headersTimeout: 2000, stallTimeout: 2000 };
const T = { timeout: 10_000 };

function decode(parts: Buffer[]): { body: string; taken: number[]; done: boolean } {
  const decoder = new ChunkedDecoder();
  const out: Buffer[] = [];
  const taken = parts.map((p) => decoder.feed(p, (d) => out.push(Buffer.from(d))));
  return { body: Buffer.concat(out).toString('latin1'), taken, done: decoder.done };
}

describe('ChunkedDecoder', () => {
  const wire = Buffer.from('5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\nNEXT', 'latin1');
  const end = wire.length - 4;

  it('decodes a body split at every byte, and stops where the body ends', () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      const { body, taken, done } = decode([wire.subarray(0, cut), wire.subarray(cut)]);
      assert.equal(body, 'helloabcdefghijklmnopqrstuvwxyz', `cut at ${cut}`);
      assert.ok(done);
      assert.equal(taken[0]! + taken[1]!, end, `the bytes after the body are not taken (cut at ${cut})`);
    }
  });

  it('refuses a malformed size line, and a chunk longer than its size', () => {
    assert.throws(() => decode([Buffer.from('zz\r\nhello\r\n')]), ChunkedError);
    assert.throws(() => decode([Buffer.from('\r\n')]), ChunkedError);
    assert.throws(() => decode([Buffer.from('3\r\nhello\r\n')]), ChunkedError);
    assert.throws(() => decode([Buffer.alloc(5000, 0x31)]), ChunkedError);
  });
});

/** A raw server: `answer` gets each request head (as text) and the socket, and writes what it likes. */
async function rawServer(t: TestContext, answer: (request: string, socket: Socket, index: number) => void): Promise<{ url: (p: string) => URL; connections: () => number }> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      for (let stop = pending.indexOf('\r\n\r\n'); stop >= 0; stop = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, stop);
        pending = pending.slice(stop + 4);
        answer(head, socket, requests++);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { url: (p) => new URL(`http://127.0.0.1:${port}${p}`), connections: () => connections };
}

async function text(body: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const chunk of body) out += (chunk as Buffer).toString('latin1');
  return out;
}

function client(t: TestContext, overrides: Partial<ConnectionSettings> = {}): LeanClient {
  const c = new LeanClient({ ...settings, ...overrides });
  t.after(() => c.close());
  return c;
}

describe('LeanClient', () => {
  it('reads chunked, Content-Length and HEAD answers on one kept-alive connection', T, async (t) => {
    const srv = await rawServer(t, (head, socket) => {
      if (head.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      else if (head.includes('/chunked')) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    });
    const c = client(t);
    const head = await c.request(srv.url('/h'), { method: 'HEAD', headers: {} });
    assert.equal(head.headers['content-length'], '1000');
    assert.equal(await text(head.body), '');
    assert.equal(await text((await c.request(srv.url('/chunked'), { method: 'GET', headers: {} })).body), 'abcde');
    const plain = await c.request(srv.url('/plain'), { method: 'GET', headers: { 'x-a': 'b' } });
    assert.equal(plain.statusCode, 200);
    assert.equal(await text(plain.body), 'hello');
    assert.equal(srv.connections(), 1);
  });

  it('skips 1xx heads, reads a body up to the close, then opens a new connection', T, async (t) => {
    const srv = await rawServer(t, (_head, socket, i) => {
      if (i === 0) socket.end('HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nX-First: 1\r\n\r\nuntil the close');
      else socket.write('HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n');
    });
    const c = client(t);
    const first = await c.request(srv.url('/a'), { method: 'GET', headers: {} });
    assert.equal(first.headers['x-first'], '1');
    assert.equal(await text(first.body), 'until the close');
    const second = await c.request(srv.url('/b'), { method: 'GET', headers: {} });
    assert.equal(second.statusCode, 304);
    assert.equal(await text(second.body), '');
    assert.equal(srv.connections(), 2);
  });

  it('sends again on a fresh connection when the server closed the kept one', T, async (t) => {
    const srv = await rawServer(t, (_head, socket, i) => {
      if (i === 1) socket.destroy(); // the kept connection's next request: closed unanswered
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const c = client(t);
    assert.equal(await text((await c.request(srv.url('/1'), { method: 'GET', headers: {} })).body), 'ok');
    assert.equal(await text((await c.request(srv.url('/2'), { method: 'GET', headers: {} })).body), 'ok');
    assert.equal(srv.connections(), 2);
  });

  it('drops bytes past Content-Length and the connection they came on', T, async (t) => {
    const srv = await rawServer(t, (_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcJUNK'));
    const c = client(t);
    assert.equal(await text((await c.request(srv.url('/1'), { method: 'GET', headers: {} })).body), 'abc');
    assert.equal(await text((await c.request(srv.url('/2'), { method: 'GET', headers: {} })).body), 'abc');
    assert.equal(srv.connections(), 2);
  });

  it('fails as undici would: a head that never comes, a body cut short, an abort', T, async (t) => {
    const srv = await rawServer(t, (head, socket) => {
      if (head.includes('/cut')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      else if (head.includes('/slow')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      // /silent: no answer
    });
    const c = client(t, { headersTimeout: 100 });
    await assert.rejects(c.request(srv.url('/silent'), { method: 'GET', headers: {} }), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    const cut = await c.request(srv.url('/cut'), { method: 'GET', headers: {} });
    await assert.rejects(text(cut.body), { code: 'UND_ERR_SOCKET' });
    const controller = new AbortController();
    const slow = await c.request(srv.url('/slow'), { method: 'GET', headers: {}, signal: controller.signal });
    const reading = text(slow.body);
    controller.abort();
    await assert.rejects(reading, { code: 'UND_ERR_ABORTED' });
  });
});
