'use strict';
// An Express 4 app as it usually sits behind an authenticating edge: it
// trusts the edge and only decodes the token it finds (jwt-decode style),
// from the Authorization header, the access_token cookie (cookie-parser)
// and the access_token query parameter (Express's qs). Every request is
// answered with a JSON report of what it read, for the differential test.
// It listens on a free loopback port and prints that port on stdout.
const express = require('express');
const cookieParser = require('cookie-parser');

const NAME = 'access_token';
const CLAIM_HEADERS = ['x-user-id', 'x-roles', 'x-auth-user', 'x-jwt-sub', 'x-jwt-roles'];

// decode reads the payload of a token without verifying it, as apps behind
// an edge that verified it do.
function decode(raw) {
  const out = { raw };
  try {
    const payload = JSON.parse(Buffer.from(raw.split('.')[1], 'base64url').toString('utf8'));
    if (payload && typeof payload === 'object') {
      out.sub = String(payload.sub);
      out.jti = String(payload.jti);
    }
  } catch (e) {
    // not a token
  }
  return out;
}

// strings flattens what a parser produced (qs and cookie-parser's "j:"
// values give arrays and objects) into every string it holds.
function strings(v) {
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

// fromAuthorization reads a Bearer token the two usual ways: split on one
// space into two parts (express-jwt, passport-http-bearer), and a regular
// expression allowing any white space after the scheme.
function fromAuthorization(value) {
  if (typeof value !== 'string') return [];
  const found = new Set();
  const parts = value.split(' ');
  if (parts.length === 2 && /^Bearer$/i.test(parts[0])) found.add(parts[1]);
  const m = /^\s*Bearer\s+(\S+)/i.exec(value);
  if (m) found.add(m[1]);
  return [...found].filter((t) => t !== '');
}

const app = express();
app.use(cookieParser());
app.all('*', (req, res) => {
  const headers = {};
  for (const name of CLAIM_HEADERS) {
    headers[name] = name in req.headers ? req.headers[name] : null;
  }
  res.json({
    authorization: fromAuthorization(req.headers.authorization).map(decode),
    cookie: strings(req.cookies[NAME]).map(decode),
    query: strings(req.query[NAME]).map(decode),
    headers,
  });
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
