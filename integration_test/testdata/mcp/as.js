// A real OAuth authorization server: panva's oidc-provider, with the
// client credentials grant and resource indicators (RFC 8707), issuing
// RFC 9068 JWT access tokens signed with alg Ed25519 (RFC 9864).
//
//   node as.js <port> <client_id> <client_secret> <resource>...
//
// Only the listed resources may be asked for. Prints "ready" once it
// listens.
import crypto from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const [port, clientId, clientSecret, ...resources] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = crypto.generateKeyPairSync('ed25519');
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'as-ed25519', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // The only key is Ed25519; the default (RS256) would have none.
    id_token_signed_response_alg: 'Ed25519',
    scope: 'mcp:tools other:read',
  }],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'mcp:tools', 'other:read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator) {
        if (!resources.includes(resourceIndicator)) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: 'mcp:tools other:read',
          audience: resourceIndicator,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'Ed25519' } },
        };
      },
    },
  },
});
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
