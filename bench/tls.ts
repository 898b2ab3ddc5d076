// A test CA and a server certificate for 127.0.0.1, made with openssl at bench time (scenario g).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCertificates {
  /** The test CA's certificate: what the clients are told to trust (curl --cacert, rangeget --ca-cert ...). */
  caFile: string;
  /** The server's certificate (signed by the test CA) and its key, for nginx. */
  certFile: string;
  keyFile: string;
}

function openssl(bin: string, args: string[], cwd: string): void {
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${(r.stderr ?? String(r.error)).trim().slice(-500)}`);
}

/**
 * A CA (P-256, valid 2 days) and a server certificate it signed for IP 127.0.0.1 and
 * localhost, in `dir`. A CA and a leaf rather than one self-signed certificate: every client
 * then verifies a chain as it would on the internet (name, signature, usage).
 */
export function makeTestCertificates(opensslBin: string, dir: string): TestCertificates {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(opensslBin, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=rangeget bench test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(opensslBin, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(opensslBin, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2',
    '-extfile', 'server.ext'], dir);
  return { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
}
