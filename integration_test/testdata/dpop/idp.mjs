// A real identity provider for the DPoP interoperability test: panva's
// oidc-provider with client credentials, resource indicators (so access
// tokens are RFC 9068 JWTs) and DPoP, which binds each token to the key of
// the proof sent to its token endpoint (cnf.jkt).
//
//   node idp.mjs <port>
//
// prints "ready" once it listens on 127.0.0.1:<port>; the test stops it.
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'https://api.example';

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'idp-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [{
    client_id: 'orders-service',
    client_secret: 'orders-service-secret-that-is-long-enough',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'orders:read',
    // The provider's only key is an EC one; its default is RS256.
    id_token_signed_response_alg: 'ES256',
  }],
  scopes: ['orders:read'],
  // Proofs the client may sign: the default (ES256, Ed25519, EdDSA) and RSA-PSS.
  enabledJWA: { dPoPSigningAlgValues: ['ES256', 'Ed25519', 'EdDSA', 'PS256'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders:read',
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 300,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
