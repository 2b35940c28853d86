// A DPoP client for the interoperability test, with panva's dpop library:
// it makes a key pair, gets a DPoP-bound access token from the identity
// provider's token endpoint with client credentials and a proof, then
// calls the resource behind Caddy with fresh proofs, and with the mistakes
// an attacker or a broken client makes.
//
//   node client.mjs <issuer> <resource URL>
//
// prints one JSON object: the token, and each call's status and challenges.
import { generateKeyPair, generateProof } from 'dpop';

const [issuer, url] = process.argv.slice(2);
const alg = process.env.DPOP_ALG || 'ES256';

const keyPair = await generateKeyPair(alg);
const tokenEndpoint = `${issuer}/token`;
const tokenResponse = await fetch(tokenEndpoint, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: 'Basic ' + Buffer.from('orders-service:orders-service-secret-that-is-long-enough').toString('base64'),
    dpop: await generateProof(keyPair, tokenEndpoint, 'POST'),
  },
  body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read' }),
});
const body = await tokenResponse.json();
if (tokenResponse.status !== 200) {
  throw new Error(`token endpoint: ${tokenResponse.status} ${JSON.stringify(body)}`);
}
const token = body.access_token;

async function call(name, { method = 'GET', scheme = 'DPoP', proof, target = url } = {}) {
  const headers = { authorization: `${scheme} ${token}` };
  if (proof !== null) {
    headers.dpop = proof ?? await generateProof(keyPair, url, method, undefined, token);
  }
  const res = await fetch(target, { method, headers });
  return { name, status: res.status, challenges: res.headers.get('www-authenticate') ?? '' };
}

const calls = [];
const first = await generateProof(keyPair, url, 'GET', undefined, token);
calls.push(await call('fresh proof', { proof: first }));
calls.push(await call('another fresh proof'));
calls.push(await call('the first proof again', { proof: first }));
calls.push(await call('as a Bearer token', { scheme: 'Bearer' }));
calls.push(await call('without a proof', { proof: null }));
calls.push(await call('proof for GET sent with POST', { method: 'POST', proof: await generateProof(keyPair, url, 'GET', undefined, token) }));
calls.push(await call('proof for another URL', { proof: await generateProof(keyPair, url + '/other', 'GET', undefined, token) }));
calls.push(await call('proof without ath', { proof: await generateProof(keyPair, url, 'GET') }));
const thief = await generateKeyPair(alg);
calls.push(await call('proof by another key', { proof: await generateProof(thief, url, 'GET', undefined, token) }));

process.stdout.write(JSON.stringify({ token_type: body.token_type, token, calls }) + '\n');
