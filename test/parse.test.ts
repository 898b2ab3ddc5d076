import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../src/primitives/errors.js';
import { forCli, forLibrary } from '../src/primitives/wording.js';
import {
  parseChecksum,
  parseDuration,
  parseHeader,
  parseIntInRange,
  parseSize,
  parseUrl,
  parseUserPass,
} from '../src/parse.js';

/** Assert `fn` throws a UsageError with exit code 2 whose one-line message matches. */
function rejects(fn: () => unknown, message: RegExp | string, label?: string): void {
  assert.throws(
    fn,
    (err: unknown) => {
      assert.ok(err instanceof UsageError, `${label ?? ''}: not a UsageError: ${String(err)}`);
      assert.equal(err.code, 'EUSAGE');
      assert.equal(err.exitCode, 2);
      assert.ok(!/[\r\n]/.test(err.message), `message is not one line: ${JSON.stringify(err.message)}`);
      // The CLI's words (flags), and the same in the library's (options).
      if (typeof message === 'string') assert.equal(err.cliMessage, message, label);
      else assert.match(err.cliMessage, message, label);
      assert.equal(err.message, forLibrary(err.cliMessage), label);
      return true;
    },
  );
}

describe('parseSize', () => {
  const K = 1024;
  const M = 1024 ** 2;
  const G = 1024 ** 3;
  const T = 1024 ** 4;

  it('reads plain byte counts', () => {
    assert.equal(parseSize('1024', '--max-speed'), 1024);
    assert.equal(parseSize('0', '--max-speed'), 0);
    assert.equal(parseSize('1024B', '--max-speed'), 1024);
    assert.equal(parseSize('007', '--max-speed'), 7);
  });

  it('reads K/M/G/T as powers of 1024, in any case, with B or iB', () => {
    const cases: Array<[string, number]> = [
      ['500K', 500 * K],
      ['500k', 500 * K],
      ['2M', 2 * M],
      ['1G', G],
      ['1T', T],
      ['10MiB', 10 * M],
      ['10mib', 10 * M],
      ['4mb', 4 * M],
      ['4MB', 4 * M],
      ['3KiB', 3 * K],
      ['2gB', 2 * G],
      ['1TiB', T],
    ];
    for (const [input, expected] of cases) assert.equal(parseSize(input, '-s'), expected, input);
  });

  it('reads fractions and rounds to whole bytes', () => {
    assert.equal(parseSize('1.5G', '-s'), 1.5 * G);
    assert.equal(parseSize('0.5K', '-s'), 512);
    assert.equal(parseSize('.5M', '-s'), M / 2);
    assert.equal(parseSize('0.1K', '-s'), 102);
    assert.equal(parseSize('1.5', '-s'), 2);
  });

  it('allows surrounding spaces and a space before the unit', () => {
    assert.equal(parseSize(' 2M ', '-s'), 2 * M);
    assert.equal(parseSize('10 MiB', '-s'), 10 * M);
  });

  it('accepts up to Number.MAX_SAFE_INTEGER', () => {
    assert.equal(parseSize(String(Number.MAX_SAFE_INTEGER), '-s'), Number.MAX_SAFE_INTEGER);
    assert.equal(parseSize('8191T', '-s'), 8191 * T);
  });

  it('rejects junk, naming the flag', () => {
    rejects(() => parseSize('2X', '--max-speed'), "--max-speed: '2X' is not a size (examples: 500K, 2M, 1G)");
    for (const bad of ['', ' ', 'M', 'abc', '2MX', '2M B', '1,5M', '1e3', '0x10', 'NaN', 'Infinity', '1.', '.', '2iB', '2P', '1..5K', '+5K', '5 K B']) {
      rejects(() => parseSize(bad, '--chunk-size'), /^--chunk-size: '.*' is not a size \(examples: 500K, 2M, 1G\)$/, bad);
    }
  });

  it('rejects negatives', () => {
    rejects(() => parseSize('-1', '--max-speed'), "--max-speed: '-1' must not be negative");
    rejects(() => parseSize('-2M', '-s'), /^-s: '-2M' must not be negative$/);
    rejects(() => parseSize('-.5K', '-s'), /must not be negative/);
  });

  it('rejects values above Number.MAX_SAFE_INTEGER', () => {
    rejects(() => parseSize('9007199254740992', '-s'), /^-s: '9007199254740992' is too large \(at most 9007199254740991 bytes\)$/);
    rejects(() => parseSize('8192T', '-s'), /is too large/);
    rejects(() => parseSize(`1${'0'.repeat(400)}`, '-s'), /is too large/);
  });

  it('escapes control characters and shortens long values in the message', () => {
    rejects(() => parseSize('2\nM', '-s'), "-s: '2\\nM' is not a size (examples: 500K, 2M, 1G)");
    rejects(() => parseSize('x'.repeat(500), '-s'), /^-s: 'x{77}\.\.\.' is not a size/);
  });
});

describe('parseIntInRange', () => {
  it('accepts integers within the range, bounds included', () => {
    assert.equal(parseIntInRange('1', '-c', 1, 64), 1);
    assert.equal(parseIntInRange('64', '-c', 1, 64), 64);
    assert.equal(parseIntInRange('16', '-c', 1, 64), 16);
    assert.equal(parseIntInRange(' 8 ', '-c', 1, 64), 8);
    assert.equal(parseIntInRange('08', '-c', 1, 64), 8);
    assert.equal(parseIntInRange('+3', '-c', 1, 64), 3);
    assert.equal(parseIntInRange('0', '--retries', 0, 100), 0);
    assert.equal(parseIntInRange('-5', '--offset', -10, 10), -5);
  });

  it('rejects out-of-range values, naming the flag and the range', () => {
    rejects(() => parseIntInRange('0', '-c', 1, 64), "-c: '0' must be an integer from 1 to 64");
    rejects(() => parseIntInRange('65', '-c', 1, 64), "-c: '65' must be an integer from 1 to 64");
    rejects(() => parseIntInRange('-1', '--retries', 0, 100), "--retries: '-1' must be an integer from 0 to 100");
    rejects(() => parseIntInRange('99999999999999999999', '-c', 1, 64), /^-c: '9+' must be an integer from 1 to 64$/);
  });

  it('rejects non-integers', () => {
    for (const bad of ['', ' ', 'abc', '1.5', '1.0', '1e1', '0x10', '4k', 'NaN', 'Infinity', '1 2', '--1', '٣']) {
      rejects(() => parseIntInRange(bad, '-c', 1, 64), /^-c: '.*' must be an integer from 1 to 64$/, bad);
    }
  });
});

describe('parseDuration', () => {
  it('reads a bare number as seconds', () => {
    assert.equal(parseDuration('30', '--timeout'), 30_000);
    assert.equal(parseDuration('1.5', '--timeout'), 1500);
    assert.equal(parseDuration('.25', '--timeout'), 250);
    assert.equal(parseDuration(' 2 ', '--timeout'), 2000);
  });

  it('reads ms, s, m and h, in any case', () => {
    assert.equal(parseDuration('500ms', '--timeout'), 500);
    assert.equal(parseDuration('500MS', '--timeout'), 500);
    assert.equal(parseDuration('2s', '--timeout'), 2000);
    assert.equal(parseDuration('2.5S', '--timeout'), 2500);
    assert.equal(parseDuration('1m', '--timeout'), 60_000);
    assert.equal(parseDuration('1.5m', '--timeout'), 90_000);
    assert.equal(parseDuration('2h', '--timeout'), 7_200_000);
    assert.equal(parseDuration('10 s', '--timeout'), 10_000);
  });

  it('accepts up to one day', () => {
    assert.equal(parseDuration('86400', '--timeout'), 86_400_000);
    assert.equal(parseDuration('24h', '--timeout'), 86_400_000);
    assert.equal(parseDuration('1440m', '--timeout'), 86_400_000);
  });

  it('rounds to whole milliseconds, never down to 0', () => {
    assert.equal(parseDuration('1.1', '--timeout'), 1100);
    assert.equal(parseDuration('0.0001', '--timeout'), 1);
    assert.equal(parseDuration('0.4ms', '--timeout'), 1);
    assert.equal(parseDuration('1.6ms', '--timeout'), 2);
  });

  it('rejects zero and more than a day', () => {
    const range = /^--timeout: '.*' must be more than 0 and at most 1 day \(24h\)$/;
    for (const bad of ['0', '0s', '0.0', '0ms', '86401', '25h', '1441m', '86400001ms']) {
      rejects(() => parseDuration(bad, '--timeout'), range, bad);
    }
  });

  it('rejects junk and negatives, naming the flag', () => {
    rejects(
      () => parseDuration('soon', '--timeout'),
      "--timeout: 'soon' is not a duration (seconds, or a number with ms, s, m or h: 30, 1.5, 500ms, 2m)",
    );
    for (const bad of ['', 'ms', '-1', '-5s', '1d', '1 day', '1sec', '1e3', '2s5', '1m30s', 'NaN', 'Infinity', '.', '1.']) {
      rejects(() => parseDuration(bad, '--retry-wait'), /^--retry-wait: '.*' is not a duration/, bad);
    }
  });
});

describe('parseChecksum', () => {
  const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const sha1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
  const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
  const sha512 =
    'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';

  it('reads algorithm=hex for every algorithm', () => {
    assert.deepEqual(parseChecksum(`sha256=${sha256}`), { algorithm: 'sha256', hex: sha256 });
    assert.deepEqual(parseChecksum(`sha1=${sha1}`), { algorithm: 'sha1', hex: sha1 });
    assert.deepEqual(parseChecksum(`md5=${md5}`), { algorithm: 'md5', hex: md5 });
    assert.deepEqual(parseChecksum(`sha512=${sha512}`), { algorithm: 'sha512', hex: sha512 });
  });

  it("accepts aria2's sha-256 spelling, ':' and any case; lowercases the hex", () => {
    assert.deepEqual(parseChecksum(`sha-256=${sha256}`), { algorithm: 'sha256', hex: sha256 });
    assert.deepEqual(parseChecksum(`sha-1:${sha1}`), { algorithm: 'sha1', hex: sha1 });
    assert.deepEqual(parseChecksum(`SHA-512:${sha512.toUpperCase()}`), { algorithm: 'sha512', hex: sha512 });
    assert.deepEqual(parseChecksum(`MD5=${md5.toUpperCase()}`), { algorithm: 'md5', hex: md5 });
    assert.deepEqual(parseChecksum(` sha256 = ${sha256} `), { algorithm: 'sha256', hex: sha256 });
  });

  it('takes a bare digest, as sha256sum prints it, by its length', () => {
    assert.deepEqual(parseChecksum(sha256), { algorithm: 'sha256', hex: sha256 });
    assert.deepEqual(parseChecksum(` ${sha256.toUpperCase()}\n`), { algorithm: 'sha256', hex: sha256 });
    assert.deepEqual(parseChecksum(sha1), { algorithm: 'sha1', hex: sha1 });
    assert.deepEqual(parseChecksum(md5), { algorithm: 'md5', hex: md5 });
    assert.deepEqual(parseChecksum(sha512), { algorithm: 'sha512', hex: sha512 });
  });

  it('rejects a value without algorithm or separator that is no digest length', () => {
    const shape =
      /^--checksum: '.*' must look like sha256=HEX, or be a bare digest of 32, 40, 64 or 128 hex digits \(algorithms: sha256, sha512, sha1, md5\)$/;
    for (const bad of ['', sha256.slice(1), `${sha256}0`, `=${sha256}`, `:${sha256}`, 'sha256']) rejects(() => parseChecksum(bad), shape, bad);
  });

  it('rejects unknown algorithms', () => {
    rejects(() => parseChecksum('crc32=cbf43926'), "--checksum: unknown algorithm 'crc32' (accepted: sha256, sha512, sha1, md5)");
    for (const bad of [`sha3-256=${sha256}`, `sha224=${sha256}`, `sha=${sha1}`, `__proto__=${md5}`, `toString=${md5}`]) {
      rejects(() => parseChecksum(bad), /^--checksum: unknown algorithm/, bad);
    }
  });

  it('rejects a digest of the wrong length, naming the expected length', () => {
    rejects(() => parseChecksum(`sha256=${sha256.slice(1)}`), '--checksum: a sha256 digest is 64 hex digits; got 63 digits');
    rejects(() => parseChecksum(`sha256=${sha256}0`), '--checksum: a sha256 digest is 64 hex digits; got 65 digits');
    rejects(() => parseChecksum(`md5=${sha1}`), '--checksum: a md5 digest is 32 hex digits; got 40 digits');
    rejects(() => parseChecksum(`sha512=${sha256}`), /a sha512 digest is 128 hex digits; got 64 digits/);
    rejects(() => parseChecksum('sha1='), /a sha1 digest is 40 hex digits; got 0 digits/);
  });

  it('rejects non-hex digests', () => {
    rejects(() => parseChecksum(`sha256=${sha256.slice(0, 63)}g`), '--checksum: a sha256 digest is 64 hex digits; got characters that are not hex digits');
    rejects(() => parseChecksum(`md5=${md5.slice(0, 16)} ${md5.slice(16)}`), /not hex digits/);
    rejects(() => parseChecksum(`sha256==${sha256}`), /not hex digits/);
    rejects(() => parseChecksum(`sha1=${Buffer.from('x'.repeat(20)).toString('base64')}`), /not hex digits/);
  });
});

describe('parseHeader', () => {
  it('splits Name: value and trims the value', () => {
    assert.deepEqual(parseHeader('Authorization: Bearer abc.def'), ['Authorization', 'Bearer abc.def']);
    assert.deepEqual(parseHeader('X-Token:abc'), ['X-Token', 'abc']);
    assert.deepEqual(parseHeader('Accept:  \t text/html \t'), ['Accept', 'text/html']);
    assert.deepEqual(parseHeader('Cookie: a=b; c=d:e'), ['Cookie', 'a=b; c=d:e']);
    assert.deepEqual(parseHeader('X-Empty:'), ['X-Empty', '']);
    assert.deepEqual(parseHeader("x-odd!#$%&'*+-.^_`|~9: v"), ["x-odd!#$%&'*+-.^_`|~9", 'v']);
    assert.deepEqual(parseHeader('X-Tab: a\tb'), ['X-Tab', 'a\tb']);
    assert.deepEqual(parseHeader('X-Latin1: caf\u00e9'), ['X-Latin1', 'caf\u00e9']);
  });

  it('rejects a value without a colon', () => {
    rejects(() => parseHeader('Authorization Bearer x'), "--header: 'Authorization Bearer x' must look like 'Name: value'");
    rejects(() => parseHeader(''), /must look like 'Name: value'/);
  });

  it('rejects names that are not RFC 9110 tokens', () => {
    for (const bad of [': v', 'X Y: v', 'X-Y : v', ' X: v', 'X(Y): v', 'X"Y: v', 'X/Y: v', 'Ünicode: v', 'X\u0000: v', 'X\r\nEvil: v']) {
      rejects(() => parseHeader(bad), /^--header: '.*' is not a valid header name/, JSON.stringify(bad));
    }
  });

  it('rejects CR, LF and NUL in the value (header injection), without echoing it', () => {
    rejects(() => parseHeader('X-A: ok\r\nHost: evil'), '--header: the value of X-A must not contain CR, LF or NUL');
    rejects(() => parseHeader('X-A: a\nb'), /must not contain CR, LF or NUL/);
    rejects(() => parseHeader('X-A: a\rb'), /must not contain CR, LF or NUL/);
    rejects(() => parseHeader('X-A: a\u0000b'), /must not contain CR, LF or NUL/);
    assert.throws(() => parseHeader('Authorization: secret-token\n'), (err: Error) => !err.message.includes('secret'));
  });

  it('rejects other control characters and characters that are not bytes', () => {
    rejects(() => parseHeader('X-A: a\u0007b'), '--header: the value of X-A must not contain control characters');
    rejects(() => parseHeader('X-A: a\u007fb'), /must not contain control characters/);
    rejects(() => parseHeader('X-A: €'), /cannot be sent in an HTTP header/);
  });

  it('rejects the headers rangeget sets itself, in any case', () => {
    const managed: Array<[string, string]> = [
      ['Host', 'Host'],
      ['range', 'Range'],
      ['IF-RANGE', 'If-Range'],
      ['Content-Length', 'Content-Length'],
      ['transfer-encoding', 'Transfer-Encoding'],
      ['Connection', 'Connection'],
    ];
    for (const [given, canonical] of managed) {
      rejects(
        () => parseHeader(`${given}: x`),
        `--header: rangeget sets the ${canonical} header itself; remove --header '${given}: ...'`,
        given,
      );
    }
  });

  it('rejects the headers the HTTP client cannot send', () => {
    for (const name of ['Keep-Alive', 'upgrade', 'Expect']) {
      rejects(() => parseHeader(`${name}: x`), /^--header: the .* header cannot be sent/, name);
    }
  });
});

describe('parseUrl', () => {
  it('accepts http and https URLs', () => {
    const u = parseUrl('https://example.com/file.iso?x=1');
    assert.ok(u instanceof URL);
    assert.equal(u.href, 'https://example.com/file.iso?x=1');
    assert.equal(parseUrl('http://localhost:8080/a').port, '8080');
    assert.equal(parseUrl('HTTP://EXAMPLE.com').href, 'http://example.com/');
    assert.equal(parseUrl('  https://example.com/x  ').href, 'https://example.com/x');
    assert.equal(parseUrl('http://[::1]:3000/').hostname, '[::1]');
    assert.equal(parseUrl('https://user:pw@example.com/').username, 'user');
    assert.equal(parseUrl('https://xn--bcher-kva.example/').hostname, 'xn--bcher-kva.example');
    assert.equal(parseUrl('https://bücher.example/').hostname, 'xn--bcher-kva.example');
  });

  it('rejects other schemes', () => {
    rejects(() => parseUrl('ftp://example.com/file'), "ftp: is not supported; rangeget downloads http and https URLs (got 'ftp://example.com/file')");
    for (const bad of ['file:///etc/passwd', 'ws://example.com/', 'data:text/plain,hi', 'javascript:alert(1)', 'mailto:a@b.c', 'sftp://h/x']) {
      rejects(() => parseUrl(bad), /^[a-z]+: is not supported; rangeget downloads http and https URLs/, bad);
    }
  });

  it('suggests a scheme when it is missing', () => {
    rejects(() => parseUrl('example.com/file.iso'), "URL 'example.com/file.iso' has no scheme; did you mean https://example.com/file.iso?");
    rejects(() => parseUrl('localhost:8080/x'), /has no scheme; did you mean https:\/\/localhost:8080\/x\?$/);
    rejects(() => parseUrl('example.com'), /has no scheme/);
  });

  it('rejects what does not parse', () => {
    for (const bad of ['', 'http://', 'https://exa mple.com/', 'http://[::1/', '/just/a/path', 'https://example.com:99999/']) {
      rejects(() => parseUrl(bad), /^URL '.*' is not a valid URL \(expected http:\/\/\.\.\. or https:\/\/\.\.\.\)$/, bad);
    }
  });

  it('does not echo a password from the URL', () => {
    assert.throws(
      () => parseUrl('ftp://alice:s3cret@example.com/x'),
      (err: Error) => err instanceof UsageError && !err.message.includes('s3cret') && err.message.includes('alice:***@'),
    );
    assert.throws(
      () => parseUrl('https://alice:s3cret@exa mple.com/'),
      (err: Error) => err instanceof UsageError && !err.message.includes('s3cret'),
    );
  });
});

describe('parseUserPass', () => {
  it('splits at the first colon', () => {
    assert.deepEqual(parseUserPass('alice:secret'), { user: 'alice', password: 'secret' });
    assert.deepEqual(parseUserPass('alice:se:cr:et'), { user: 'alice', password: 'se:cr:et' });
    assert.deepEqual(parseUserPass('alice:'), { user: 'alice', password: '' });
    assert.deepEqual(parseUserPass('al ice:p w'), { user: 'al ice', password: 'p w' });
    assert.deepEqual(parseUserPass('ünï:pässword'), { user: 'ünï', password: 'pässword' });
  });

  it("takes a lone user with password ''", () => {
    assert.deepEqual(parseUserPass('alice'), { user: 'alice', password: '' });
  });

  it('rejects an empty user name', () => {
    rejects(() => parseUserPass(''), "--user: the user name must not be empty (expected 'user:password' or 'user')");
    rejects(() => parseUserPass(':secret'), /^--user: the user name must not be empty/);
  });

  it('rejects control characters without echoing the value', () => {
    rejects(() => parseUserPass('alice:sec\nret'), '--user: the user name and password must not contain control characters');
    rejects(() => parseUserPass('al\u0000ice:x'), /must not contain control characters/);
    assert.throws(() => parseUserPass(':topsecret'), (err: Error) => !err.message.includes('topsecret'));
  });
});

describe('wording: one table, both audiences', () => {
  it('a library message (a warning, a retry reason) reads with flags on the command line', () => {
    const library = 'TLS certificate verification failed: self-signed; trust its CA with `caCert`, or skip the check with `insecure: true`';
    assert.equal(forCli(library), 'TLS certificate verification failed: self-signed; trust its CA with --ca-cert FILE, or skip the check with --insecure');
    assert.equal(forCli('cannot resume: the file changed; download with `resume: false` to start over'), 'cannot resume: the file changed; run with --no-resume to start over');
  });

  it('goes back to the CLI words a CLI message was made from', () => {
    for (const cli of [
      '/tmp/f already exists; pass --continue to finish it (nothing is fetched if it is complete), --overwrite to replace it, or -o to choose another name',
      'interrupted; run the same command again to resume',
      'maxRedirects: raise --max-redirects if this is expected',
    ]) {
      assert.notEqual(forLibrary(cli), cli, 'the library says it otherwise');
      assert.equal(forCli(forLibrary(cli)), cli);
    }
  });

  it('leaves text without the library words as it is', () => {
    assert.equal(forCli('server answered HTTP 503 for bytes 0-99 of http://h/f'), 'server answered HTTP 503 for bytes 0-99 of http://h/f');
  });
});
