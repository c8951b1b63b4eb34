// A throwaway certificate authority and a server certificate for 127.0.0.1,
// made with the openssl CLI in a temp directory (node:crypto cannot issue X.509
// certificates). P-256 keys: generation takes milliseconds.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caPath: string;
  ca: string;
  key: string;
  cert: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA ("weft test CA"), and a certificate it signed for IP 127.0.0.1 and DNS localhost. */
export function makeTestPki(name = 'weft test CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'weft-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2',
      '-extfile', 'server.ext'],
    dir,
  );
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return { dir, caPath: join(dir, 'ca.crt'), ca: read('ca.crt'), key: read('server.key'), cert: read('server.crt') };
}
