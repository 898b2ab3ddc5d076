/**
 * The engine's pure decisions, one describe each: no server, no file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError, NetworkError, RemoteChangedError } from '../src/primitives/errors.js';
import { MAX_RESTARTS, restartAction, type RestartContext } from '../src/engine/restart.js';
import { findSources, mirrorProblem, sourceOf } from '../src/engine/sources.js';
import type { ProbeResult } from '../src/http/probe.js';

const ORIGINAL = 'https://example.com/file';
const SIGNED = 'https://cdn.example.com/file?sig=1';

describe('restartAction', () => {
  const context = (over: Partial<RestartContext> = {}): RestartContext => ({
    url: ORIGINAL,
    reprobed: false,
    restarts: 0,
    restart: true,
    ...over,
  });

  it('probes the original URL again when the final URL answers 403, 410 or a redirect', () => {
    for (const status of [301, 302, 303, 307, 308, 403, 410]) {
      assert.equal(restartAction(new HttpError(status, SIGNED), context()), 'reprobe', `HTTP ${status}`);
    }
  });

  it('does not probe again for other statuses', () => {
    for (const status of [400, 401, 404, 416, 500, 503]) {
      assert.equal(restartAction(new HttpError(status, SIGNED), context()), 'fail', `HTTP ${status}`);
    }
  });

  it('probes again only once', () => {
    assert.equal(restartAction(new HttpError(403, SIGNED), context({ reprobed: true })), 'fail');
  });

  it('does not probe again when the failing URL is the original one', () => {
    assert.equal(restartAction(new HttpError(403, ORIGINAL), context()), 'fail');
  });

  it('probes again whatever --restart says and however many restarts were made', () => {
    assert.equal(restartAction(new HttpError(410, SIGNED), context({ restart: false, restarts: MAX_RESTARTS })), 'reprobe');
  });

  it('starts over when the remote file changed and --restart allows it', () => {
    assert.equal(restartAction(new RemoteChangedError('changed'), context()), 'start-over');
    assert.equal(restartAction(new RemoteChangedError('changed'), context({ restarts: MAX_RESTARTS - 1 })), 'start-over');
  });

  it('fails on a changed file without --restart, or after MAX_RESTARTS restarts', () => {
    assert.equal(restartAction(new RemoteChangedError('changed'), context({ restart: false })), 'fail');
    assert.equal(restartAction(new RemoteChangedError('changed'), context({ restarts: MAX_RESTARTS })), 'fail');
  });

  it('fails on any other error', () => {
    assert.equal(restartAction(new NetworkError('reset'), context()), 'fail');
    assert.equal(restartAction(new Error('bug'), context()), 'fail');
    assert.equal(restartAction('not an error', context()), 'fail');
  });
});

describe('sources', () => {
  const probed = (over: Partial<ProbeResult> = {}): ProbeResult => ({
    url: ORIGINAL,
    finalUrl: SIGNED,
    size: 1000,
    acceptsRanges: true,
    etag: '"a"',
    lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
    method: 'HEAD',
    ...over,
  });

  it('sourceOf takes the final URL and the validators', () => {
    assert.deepEqual(sourceOf(probed()), { url: SIGNED, etag: '"a"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' });
    assert.deepEqual(sourceOf(probed({ etag: undefined, lastModified: undefined })), { url: SIGNED });
  });

  it('a mirror serving the same size, ranges and ETag is kept, whatever its Last-Modified', () => {
    assert.equal(mirrorProblem(probed(), probed({ lastModified: 'Tue, 02 Jan 2024 00:00:00 GMT' })), undefined);
  });

  it('an ETag missing on either side contradicts nothing', () => {
    assert.equal(mirrorProblem(probed(), probed({ etag: undefined })), undefined);
    assert.equal(mirrorProblem(probed({ etag: undefined }), probed()), undefined);
  });

  it('a mirror with another size, no ranges or another ETag is dropped, saying why', () => {
    assert.equal(mirrorProblem(probed(), probed({ size: 999 })), 'serves 999 bytes, not 1000');
    assert.equal(mirrorProblem(probed(), probed({ size: undefined })), 'serves an unknown number of bytes, not 1000');
    assert.equal(mirrorProblem(probed(), probed({ acceptsRanges: false })), 'does not support ranges');
    assert.equal(mirrorProblem(probed(), probed({ etag: '"b"' })), 'has ETag "b", not "a"');
  });

  it('findSources keeps the URL first, then the good mirrors in order, and warns for the others', async () => {
    const mirrors = [new URL('https://m1.example/f'), new URL('https://m2.example/f'), new URL('https://m3.example/f')];
    const answers = new Map<string, ProbeResult | Error>([
      [mirrors[0]!.href, probed({ finalUrl: mirrors[0]!.href, etag: '"b"' })],
      [mirrors[1]!.href, new Error('connection refused')],
      [mirrors[2]!.href, probed({ finalUrl: mirrors[2]!.href })],
    ]);
    const warnings: string[] = [];
    const sources = await findSources(
      probed(),
      mirrors,
      async (url) => {
        const answer = answers.get(url.href)!;
        if (answer instanceof Error) throw answer;
        return answer;
      },
      (m) => warnings.push(m),
    );
    assert.deepEqual(
      sources.map((s) => s.url),
      [SIGNED, mirrors[2]!.href],
    );
    assert.deepEqual(warnings, [
      'mirror https://m1.example/f dropped: has ETag "b", not "a"',
      'mirror https://m2.example/f dropped: connection refused',
    ]);
  });
});
