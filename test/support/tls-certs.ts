import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate (PEM file) and its unencrypted key (PEM file). */
export interface CertPair {
  cert: string;
  key: string;
}

/**
 * Test certificates made with openssl in a temp dir of their own, removed by `remove()`:
 * - `ca`: the CA the broker and the apps trust;
 * - `server`: CN localhost, SAN DNS:localhost and IP:127.0.0.1, signed by `ca`;
 * - `client`: CN `clientName` (the login for EXTERNAL), signed by `ca`;
 * - `untrustedClient`: same CN, signed by a second CA nobody trusts.
 */
export class TlsCerts {
  private removed = false;

  private constructor(
    readonly dir: string,
    readonly ca: string,
    readonly server: CertPair,
    readonly client: CertPair,
    readonly untrustedClient: CertPair,
    readonly clientName: string,
  ) {}

  static make(clientName = 'fib-rpc-client'): TlsCerts {
    const dir = mkdtempSync(join(tmpdir(), 'fib-rpc-tls-'));
    try {
      const ca = makeCa(dir, 'ca', 'fib-rpc test CA');
      const other = makeCa(dir, 'other-ca', 'fib-rpc untrusted CA');
      const server = makeLeaf(dir, 'server', 'localhost', ca, [
        'subjectAltName = DNS:localhost, IP:127.0.0.1',
        'extendedKeyUsage = serverAuth',
      ]);
      const client = makeLeaf(dir, 'client', clientName, ca, ['extendedKeyUsage = clientAuth']);
      const untrustedClient = makeLeaf(dir, 'untrusted-client', clientName, other, ['extendedKeyUsage = clientAuth']);
      return new TlsCerts(dir, ca.cert, server, client, untrustedClient, clientName);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Removes the temp dir (keys included). Safe to call twice. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function makeCa(dir: string, name: string, cn: string): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints = critical, CA:TRUE',
    '-addext',
    'keyUsage = critical, keyCertSign, cRLSign',
  );
  return pair;
}

function makeLeaf(dir: string, name: string, cn: string, issuer: CertPair, extensions: string[]): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    ['basicConstraints = CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment', ...extensions].join(
      '\n',
    ) + '\n',
  );
  openssl(dir, 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', pair.key, '-out', csr, '-subj', `/CN=${cn}`);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    issuer.cert,
    '-CAkey',
    issuer.key,
    '-CAcreateserial',
    '-out',
    pair.cert,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
  );
  return pair;
}
