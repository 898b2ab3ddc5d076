/**
 * The engine's pure decisions, one describe each: no server, no file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError, NetworkError, RemoteChangedError } from '../src/primitives/errors.js';
import { MAX_RESTARTS, restartAction, type RestartContext } from '../src/engine/restart.js';

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
