import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RangegetError, UsageError } from '../src/primitives/errors.js';
import { chooseFileName } from '../src/engine/file-name.js';
import { fileNameFromContentDisposition, fileNameFromUrl } from '../src/http/disposition.js';
import { resolveTarget, sanitizeFileName } from '../src/storage/target.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
/** A header as fetch hands it over: one char per byte of the UTF-8 text. */
const asByteString = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

describe('fileNameFromContentDisposition', () => {
  const cd = fileNameFromContentDisposition;

  it('is undefined without a header or a filename parameter', () => {
    assert.equal(cd(undefined), undefined);
    assert.equal(cd(''), undefined);
    assert.equal(cd('attachment'), undefined);
    assert.equal(cd('inline; size=12'), undefined);
  });

  it('reads a token filename', () => {
    assert.equal(cd('attachment; filename=report.pdf'), 'report.pdf');
    assert.equal(cd('attachment;filename=report.pdf'), 'report.pdf');
    assert.equal(cd('attachment; filename = report.pdf ; size=3'), 'report.pdf');
  });

  it('reads a quoted filename with backslash escapes', () => {
    assert.equal(cd('attachment; filename="annual report.pdf"'), 'annual report.pdf');
    assert.equal(cd('attachment; filename="a \\"quoted\\" name.txt"'), 'a "quoted" name.txt');
    assert.equal(cd('attachment; filename="back\\\\slash.txt"'), 'back\\slash.txt');
    assert.equal(cd('attachment; filename="\\a\\b.txt"'), 'ab.txt');
  });

  it('keeps ; and = inside a quoted filename', () => {
    assert.equal(cd('attachment; filename="a;b=c.txt"; size=1'), 'a;b=c.txt');
  });

  it('matches parameter names case-insensitively', () => {
    assert.equal(cd('ATTACHMENT; FileName="x.bin"'), 'x.bin');
    assert.equal(cd("attachment; FILENAME*=utf-8''y.bin"), 'y.bin');
  });

  it('decodes filename* in UTF-8', () => {
    assert.equal(cd("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf"), '€ rates.pdf');
    assert.equal(cd("attachment; filename*=utf-8'en'%C3%A9t%C3%A9.txt"), 'été.txt');
  });

  it('decodes filename* in ISO-8859-1', () => {
    assert.equal(cd("attachment; filename*=ISO-8859-1''%A3%20rates.pdf"), '£ rates.pdf');
    assert.equal(cd("attachment; filename*=iso-8859-1'de'Gr%FC%DFe.txt"), 'Grüße.txt');
  });

  it('prefers filename* over filename, whichever comes first', () => {
    assert.equal(cd("attachment; filename=\"EURO rates.pdf\"; filename*=UTF-8''%E2%82%AC%20rates.pdf"), '€ rates.pdf');
    assert.equal(cd("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf; filename=\"EURO rates.pdf\""), '€ rates.pdf');
  });

  it('falls back to filename when filename* is unusable', () => {
    const fallback = 'attachment; filename="plain.txt"; ';
    assert.equal(cd(`${fallback}filename*=UTF-8''%ZZ.txt`), 'plain.txt', 'bad escape');
    assert.equal(cd(`${fallback}filename*=UTF-8''%C3.txt`), 'plain.txt', 'invalid UTF-8');
    assert.equal(cd(`${fallback}filename*=KOI8-R''%C1.txt`), 'plain.txt', 'unsupported charset');
    assert.equal(cd(`${fallback}filename*=no-quotes.txt`), 'plain.txt', 'not an ext-value');
    assert.equal(cd(`${fallback}filename*=UTF-8''`), 'plain.txt', 'empty');
  });

  it('is undefined when filename* is unusable and there is no filename', () => {
    assert.equal(cd("attachment; filename*=UTF-8''%E2%82"), undefined);
  });

  it('accepts a quoted filename* (not allowed by the RFC, but sent)', () => {
    assert.equal(cd('attachment; filename*="UTF-8\'\'a%20b.txt"'), 'a b.txt');
  });

  it('reads raw UTF-8 bytes in filename as UTF-8, other bytes as ISO-8859-1', () => {
    assert.equal(cd(asByteString('attachment; filename="€ rates.pdf"')), '€ rates.pdf');
    assert.equal(cd('attachment; filename="caf\u00e9.txt"'), 'café.txt');
    assert.equal(cd('attachment; filename="€.txt"'), '€.txt');
  });

  it('is undefined for an empty or unterminated filename', () => {
    assert.equal(cd('attachment; filename=""'), undefined);
    assert.equal(cd('attachment; filename='), undefined);
    assert.equal(cd('attachment; filename="never closed.txt'), undefined);
  });

  it('takes the first of repeated parameters', () => {
    assert.equal(cd('attachment; filename=first.txt; filename=second.txt'), 'first.txt');
  });

  it('accepts a header without a disposition type', () => {
    assert.equal(cd('filename=x.bin'), 'x.bin');
  });

  it('does not sanitise', () => {
    assert.equal(cd('attachment; filename="../../etc/passwd"'), '../../etc/passwd');
    assert.equal(cd("attachment; filename*=UTF-8''..%2F..%2F.bashrc"), '../../.bashrc');
  });
});

describe('fileNameFromUrl', () => {
  const fromUrl = (u: string): string | undefined => fileNameFromUrl(new URL(u));

  it('takes the last path segment, without query or fragment', () => {
    assert.equal(fromUrl('https://example.com/dir/file.tar.gz'), 'file.tar.gz');
    assert.equal(fromUrl('https://example.com/file.iso?token=abc#frag'), 'file.iso');
  });

  it('is undefined for an empty path or /', () => {
    assert.equal(fromUrl('https://example.com'), undefined);
    assert.equal(fromUrl('https://example.com/'), undefined);
    assert.equal(fromUrl('https://example.com//'), undefined);
    assert.equal(fromUrl('https://example.com/?name=x.bin'), undefined);
  });

  it('skips empty segments at the end', () => {
    assert.equal(fromUrl('https://example.com/releases/v1/'), 'v1');
  });

  it('percent-decodes as UTF-8', () => {
    assert.equal(fromUrl('https://example.com/%E2%82%AC%20rates.pdf'), '€ rates.pdf');
    assert.equal(fromUrl('https://example.com/€ rates.pdf'), '€ rates.pdf');
    assert.equal(fromUrl('https://example.com/a%2Bb.txt'), 'a+b.txt');
  });

  it('keeps invalid escapes as written', () => {
    assert.equal(fromUrl('https://example.com/100%.txt'), '100%.txt');
    assert.equal(fromUrl('https://example.com/%zz%4.txt'), '%zz%4.txt');
    assert.equal(fromUrl('https://example.com/%FF%fe.bin'), '%FF%fe.bin');
    assert.equal(fromUrl('https://example.com/%E2%82.bin'), '%E2%82.bin', 'truncated sequence');
    assert.equal(fromUrl('https://example.com/%C0%AF.bin'), '%C0%AF.bin', 'overlong slash');
    assert.equal(fromUrl('https://example.com/%ED%A0%80.bin'), '%ED%A0%80.bin', 'surrogate');
    assert.equal(fromUrl('https://example.com/%FF%C3%A9%E2.bin'), '%FFé%E2.bin', 'mixed run');
  });

  it('decodes %2F into the name (sanitising removes it later)', () => {
    assert.equal(fromUrl('https://example.com/a/%2e%2e%2fpasswd'), '../passwd');
    assert.equal(fromUrl('https://example.com/a/..%2F..%2Fetc%2Fpasswd'), '../../etc/passwd');
  });

  it('sees the URL after dot segments are resolved', () => {
    // WHATWG URL resolves %2e%2e as "..": the path is /passwd.
    assert.equal(fromUrl('https://example.com/a/%2e%2e/passwd'), 'passwd');
  });

  it('decodes %00 (sanitising removes it later)', () => {
    assert.equal(fromUrl('https://example.com/a%00b.txt'), 'a\u0000b.txt');
  });
});

describe('sanitizeFileName', () => {
  const s = sanitizeFileName;

  it('keeps ordinary names', () => {
    assert.equal(s('report.pdf'), 'report.pdf');
    assert.equal(s('archive.tar.gz'), 'archive.tar.gz');
    assert.equal(s('€ rates (final).pdf'), '€ rates (final).pdf');
    assert.equal(s('日本語.txt'), '日本語.txt');
    assert.equal(s('no-extension'), 'no-extension');
  });

  it('keeps only the part after the last / or \\', () => {
    assert.equal(s('../../etc/passwd'), 'passwd');
    assert.equal(s('..\\..\\x'), 'x');
    assert.equal(s('/etc/shadow'), 'shadow');
    assert.equal(s('C:\\Windows\\System32\\evil.dll'), 'evil.dll');
    assert.equal(s('a/b\\c/d.txt'), 'd.txt');
  });

  it('refuses names that end in a separator', () => {
    assert.equal(s('dir/'), undefined);
    assert.equal(s('dir\\'), undefined);
    assert.equal(s('/'), undefined);
  });

  it('refuses ., .., empty and dots-only names', () => {
    assert.equal(s(''), undefined);
    assert.equal(s('.'), undefined);
    assert.equal(s('..'), undefined);
    assert.equal(s('...'), undefined);
    assert.equal(s('../..'), undefined);
    assert.equal(s(' . . '), undefined);
    assert.equal(s('   '), undefined);
  });

  it('strips the leading dots of hidden names', () => {
    assert.equal(s('.bashrc'), 'bashrc');
    assert.equal(s('..bashrc'), 'bashrc');
    assert.equal(s('.ssh/authorized_keys'), 'authorized_keys');
    assert.equal(s(' .profile'), 'profile');
  });

  it('trims spaces and dots at the ends', () => {
    assert.equal(s('  file.txt  '), 'file.txt');
    assert.equal(s('file.txt.'), 'file.txt');
    assert.equal(s('file.txt . .'), 'file.txt');
    assert.equal(s('\u00a0file.txt\u3000'), 'file.txt');
  });

  it('drops control characters (C0, DEL, C1)', () => {
    assert.equal(s('a\u0000b'), 'ab');
    assert.equal(s('line\nbreak\r.txt'), 'linebreak.txt');
    assert.equal(s('tab\there.txt'), 'tabhere.txt');
    assert.equal(s('del\u007f.txt'), 'del.txt');
    assert.equal(s('c1\u0085\u009b.txt'), 'c1.txt');
    assert.equal(s('\u001b[31mred.txt'), '[31mred.txt');
    assert.equal(s('\u0000'), undefined);
  });

  it('drops bidi controls that disguise the extension', () => {
    assert.equal(s('\u202Eexe.txt'), 'exe.txt');
    assert.equal(s('photo\u202Egpj.exe'), 'photogpj.exe');
    assert.equal(s('a\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u200E\u200F\u061Cb.txt'), 'ab.txt');
    assert.equal(s('\u202E'), undefined);
  });

  it('replaces characters invalid on Windows', () => {
    assert.equal(s('a<b>c:d"e|f?g*h.txt'), 'a_b_c_d_e_f_g_h.txt');
    assert.equal(s('what?.txt'), 'what_.txt');
    assert.equal(s('C:evil.txt'), 'C_evil.txt');
    assert.equal(s('?'), '_');
  });

  it('prefixes Windows device names, with or without extension, in any case', () => {
    for (const name of ['CON', 'PRN', 'AUX', 'NUL', 'COM1', 'COM9', 'LPT1', 'LPT9']) {
      assert.equal(s(name), `_${name}`);
      assert.equal(s(`${name}.txt`), `_${name}.txt`);
    }
    assert.equal(s('CON.txt'), '_CON.txt');
    assert.equal(s('con'), '_con');
    assert.equal(s('Nul.tar.gz'), '_Nul.tar.gz');
    assert.equal(s('aux .txt'), '_aux .txt');
    assert.equal(s('dir/PRN.log'), '_PRN.log');
    assert.equal(s('.CON'), '_CON');
    assert.equal(s('COM\u00b9.txt'), '_COM\u00b9.txt');
  });

  it('leaves names that only look like device names', () => {
    assert.equal(s('CONSOLE.txt'), 'CONSOLE.txt');
    assert.equal(s('COM10'), 'COM10');
    assert.equal(s('LPT'), 'LPT');
    assert.equal(s('icon.png'), 'icon.png');
    assert.equal(s('my-con.txt'), 'my-con.txt');
  });

  it('caps a 400-char name keeping the extension, with room for .part.json', () => {
    const out = s(`${'a'.repeat(400)}.pdf`);
    assert.ok(out !== undefined);
    assert.ok(out.endsWith('.pdf'));
    assert.equal(bytes(out), 245);
    assert.ok(bytes(`${out}.part.json`) <= 255);
    assert.equal(out, `${'a'.repeat(241)}.pdf`);
  });

  it('caps by UTF-8 bytes without splitting a character', () => {
    const out = s(`${'€'.repeat(200)}.tar.gz`);
    assert.ok(out !== undefined);
    assert.ok(bytes(out) <= 245);
    assert.ok(out.endsWith('€.gz'));
    assert.ok(!out.includes('\ufffd'));
    assert.equal(out, `${'€'.repeat(80)}.gz`);
    const emoji = s(`${'😀'.repeat(100)}.png`);
    assert.ok(emoji !== undefined && bytes(emoji) <= 245);
    assert.equal(emoji, `${'😀'.repeat(60)}.png`);
  });

  it('does not split a grapheme cluster when capping', () => {
    const family = '👨‍👩‍👧'; // 18 bytes
    const out = s(`${family.repeat(20)}.txt`);
    assert.ok(out !== undefined);
    assert.equal(out, `${family.repeat(13)}.txt`);
  });

  it('caps a name without an extension', () => {
    const out = s('x'.repeat(400));
    assert.equal(out, 'x'.repeat(245));
  });

  it('does not take a long tail after the last dot for an extension', () => {
    const out = s(`Mr. ${'word '.repeat(80)}end`);
    assert.ok(out !== undefined);
    assert.ok(out.startsWith('Mr. word word'));
    assert.ok(bytes(out) <= 245);
  });

  it('leaves no trailing dot or space before the kept extension', () => {
    const out = s(`${'ab. '.repeat(100)}.pdf`);
    assert.ok(out !== undefined);
    assert.match(out, /[^. ]\.pdf$/);
    assert.ok(bytes(out) <= 245);
  });

  it('replaces lone surrogates', () => {
    assert.equal(s('a\ud800b.txt'), 'a\ufffdb.txt');
    assert.equal(s('😀.txt'), '😀.txt');
  });

  it('is idempotent', () => {
    const hostile = ['../../etc/passwd', '.bashrc', 'CON.txt', 'a<b>.txt', `${'a'.repeat(400)}.pdf`, '\u202Eexe.txt', ' x. '];
    for (const name of hostile) {
      const once = s(name);
      assert.ok(once !== undefined);
      assert.equal(s(once), once, name);
    }
  });
});

describe('chooseFileName', () => {
  it('uses the sanitised Content-Disposition name first', () => {
    assert.equal(
      chooseFileName(new URL('https://example.com/download?id=1'), "attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf"),
      '€ rates.pdf',
    );
    assert.equal(chooseFileName(new URL('https://example.com/file.bin'), 'attachment; filename="../../.bashrc"'), 'bashrc');
  });

  it('falls back to the URL name when the header has none or an unusable one', () => {
    const url = new URL('https://example.com/files/data.csv');
    assert.equal(chooseFileName(url), 'data.csv');
    assert.equal(chooseFileName(url, undefined), 'data.csv');
    assert.equal(chooseFileName(url, 'inline'), 'data.csv');
    assert.equal(chooseFileName(url, 'attachment; filename=".."'), 'data.csv');
    assert.equal(chooseFileName(url, 'attachment; filename="dir/"'), 'data.csv');
    assert.equal(chooseFileName(url, 'attachment; filename="\u202E"'), 'data.csv');
  });

  it('sanitises the URL name', () => {
    assert.equal(chooseFileName(new URL('https://example.com/a/%2e%2e%2fpasswd')), 'passwd');
    assert.equal(chooseFileName(new URL('https://example.com/%2Ebashrc')), 'bashrc');
    assert.equal(chooseFileName(new URL('https://example.com/NUL.txt')), '_NUL.txt');
    assert.equal(chooseFileName(new URL('https://example.com/a%00b')), 'ab');
  });

  it('falls back to index.html', () => {
    assert.equal(chooseFileName(new URL('https://example.com/')), 'index.html');
    assert.equal(chooseFileName(new URL('https://example.com')), 'index.html');
    assert.equal(chooseFileName(new URL('https://example.com/..%2F')), 'index.html');
    assert.equal(chooseFileName(new URL('https://example.com/%2e%2e%2f%2e%2e'), 'attachment; filename="."'), 'index.html');
  });
});

describe('resolveTarget', () => {
  const cwd = process.cwd();
  const root = path.resolve('/srv/downloads');

  it('puts the file name in the working directory by default', () => {
    const t = resolveTarget({ fileName: 'file.iso' });
    assert.deepEqual(t, {
      path: path.join(cwd, 'file.iso'),
      partPath: path.join(cwd, 'file.iso.part'),
      controlPath: path.join(cwd, 'file.iso.part.json'),
    });
  });

  it('puts the file name in -d', () => {
    assert.equal(resolveTarget({ dir: root, fileName: 'file.iso' }).path, path.join(root, 'file.iso'));
    assert.equal(resolveTarget({ dir: 'out', fileName: 'file.iso' }).path, path.join(cwd, 'out', 'file.iso'));
    assert.equal(resolveTarget({ dir: '', fileName: 'file.iso' }).path, path.join(cwd, 'file.iso'));
  });

  it('uses -o relative to the working directory, ignoring fileName', () => {
    assert.equal(resolveTarget({ output: 'mine.bin', fileName: 'server.bin' }).path, path.join(cwd, 'mine.bin'));
    assert.equal(resolveTarget({ output: 'sub/dir/mine.bin', fileName: 'x' }).path, path.join(cwd, 'sub', 'dir', 'mine.bin'));
  });

  it('joins a relative -o to -d', () => {
    assert.equal(resolveTarget({ dir: root, output: 'mine.bin', fileName: 'x' }).path, path.join(root, 'mine.bin'));
    assert.equal(resolveTarget({ dir: root, output: 'a/b.bin', fileName: 'x' }).path, path.join(root, 'a', 'b.bin'));
  });

  it('uses -o as given, .. included: the user chose it', () => {
    assert.equal(resolveTarget({ dir: root, output: '../up.bin', fileName: 'x' }).path, path.resolve(root, '..', 'up.bin'));
  });

  it('uses an absolute -o as is, even with -d', () => {
    const abs = path.resolve('/tmp/abs.bin');
    const t = resolveTarget({ dir: root, output: abs, fileName: 'x' });
    assert.deepEqual(t, { path: abs, partPath: `${abs}.part`, controlPath: `${abs}.part.json` });
  });

  it('returns absolute, normalised paths', () => {
    const t = resolveTarget({ dir: 'a/./b/../c', fileName: 'f' });
    assert.ok(path.isAbsolute(t.path));
    assert.equal(t.path, path.join(cwd, 'a', 'c', 'f'));
    assert.ok(path.isAbsolute(resolveTarget({ output: './x/../y', fileName: 'f' }).path));
  });

  it('rejects an -o that is empty or names a directory', () => {
    for (const output of ['', 'out/', '.', '..', 'a/..', 'a/.']) {
      assert.throws(
        () => resolveTarget({ dir: root, output, fileName: 'x' }),
        (err: unknown) => err instanceof UsageError && err.cliMessage.startsWith('-o: ') && err.message.startsWith('`output`: '),
        JSON.stringify(output),
      );
    }
  });

  it('refuses a fileName that is not one plain segment (a bug in the caller)', () => {
    for (const fileName of ['', '.', '..', '../x', 'a/b', 'a\\b', 'a\u0000b']) {
      assert.throws(
        () => resolveTarget({ dir: root, fileName }),
        (err: unknown) => err instanceof RangegetError && err.code === 'EINTERNAL',
        JSON.stringify(fileName),
      );
    }
  });

  it('keeps a sanitised long name within 255 bytes for every path', () => {
    const name = sanitizeFileName(`${'n'.repeat(400)}.bin`);
    assert.ok(name !== undefined);
    const t = resolveTarget({ dir: root, fileName: name });
    for (const p of [t.path, t.partPath, t.controlPath]) assert.ok(bytes(path.basename(p)) <= 255);
  });
});
