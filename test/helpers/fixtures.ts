/** The test certificate (for 127.0.0.1 and localhost, its own CA) and what serves it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures, from dist/test/helpers where the tests run. */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
/** The certificate, which is also its own CA: what `--ca-cert` is given. */
export const CERT = join(FIXTURES, 'cert.pem');

/** Key and certificate for a test server's `tls` option. */
export function serverTls(): { key: Buffer; cert: Buffer } {
  return { key: readFileSync(join(FIXTURES, 'key.pem')), cert: readFileSync(CERT) };
}

/**
 * `RANGEGET_TEST_TLS=1` (`npm run test:tls`): test servers serve HTTPS unless a test chooses
 * (server.ts), and CLI children trust the fixture certificate (cli.ts).
 */
export const TEST_TLS = process.env.RANGEGET_TEST_TLS === '1';
