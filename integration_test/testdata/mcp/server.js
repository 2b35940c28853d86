// A small MCP server built with the MCP TypeScript SDK, speaking the
// streamable HTTP transport (stateless) at /mcp, as remote MCP servers
// put behind a reverse proxy do.
//
//   node server.js <port>
//
// Tools: add(a, b); whoami, which answers the X-Client-Id header the
// request reached it with. Prints "ready" once it listens.
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const port = Number(process.argv[2]);

function buildServer(req) {
  const server = new McpServer({ name: 'caddy-jwt-test-server', version: '1.0.0' });
  server.registerTool('add', {
    description: 'Adds two numbers',
    inputSchema: { a: z.number(), b: z.number() },
  }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
  server.registerTool('whoami', {
    description: 'The client the edge says this is',
  }, async () => ({ content: [{ type: 'text', text: req.get('x-client-id') ?? '' }] }));
  return server;
}

const app = express();
app.use(express.json());
app.post('/mcp', async (req, res) => {
  const server = buildServer(req);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => { transport.close(); server.close(); });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.all('/mcp', (req, res) => res.status(405).set('Allow', 'POST').end());
app.listen(port, '127.0.0.1', () => console.log('ready'));
