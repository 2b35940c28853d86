// A real MCP client: the MCP TypeScript SDK, finding its way to a token
// the way the MCP authorization specification says, with the SDK's own
// functions.
//
//   node client.js <mcp-url> <client_id> <client_secret> <issuer>
//
// 1. An unauthenticated request gets a 401 whose WWW-Authenticate names
//    the resource metadata (extractWWWAuthenticateParams); the metadata
//    (discoverOAuthProtectedResourceMetadata) names the authorization
//    server, whose own metadata is found next
//    (discoverAuthorizationServerMetadata).
// 2. A Client over the streamable HTTP transport, with the SDK's client
//    credentials provider, connects (initialize), which makes the
//    transport run the same discovery on the 401 and get a token with the
//    resource indicator; then it calls two tools.
// Prints one JSON object with what it found.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const [mcpURL, clientId, clientSecret, issuer] = process.argv.slice(2);
const out = {};

const probe = await fetch(mcpURL, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
});
out.probeStatus = probe.status;
out.probeChallenge = probe.headers.get('www-authenticate');
const params = extractWWWAuthenticateParams(probe);
out.resourceMetadataUrl = params.resourceMetadataUrl?.href;

const prm = await discoverOAuthProtectedResourceMetadata(mcpURL, { resourceMetadataUrl: params.resourceMetadataUrl });
out.resourceMetadata = prm;
const asMeta = await discoverAuthorizationServerMetadata(prm.authorization_servers[0]);
out.authorizationServer = { issuer: asMeta.issuer, token_endpoint: asMeta.token_endpoint };

const provider = new ClientCredentialsProvider({ clientId, clientSecret, expectedIssuer: issuer, scope: 'mcp:tools' });
const transport = new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider });
const client = new Client({ name: 'caddy-jwt-test-client', version: '1.0.0' });
await client.connect(transport);
out.serverInfo = client.getServerVersion();
const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
out.sum = sum.content[0].text;
const who = await client.callTool({ name: 'whoami', arguments: {} });
out.whoami = who.content[0].text;
out.tokenHeader = JSON.parse(Buffer.from(provider.tokens().access_token.split('.')[0], 'base64url').toString());
await client.close();
console.log(JSON.stringify(out));
