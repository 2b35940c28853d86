"""A Flask app as it usually sits behind an authenticating edge.

It trusts the edge and only decodes the token it finds, from the
Authorization header, the access_token cookie and the access_token query
parameter (every value Werkzeug parses), and answers every request with a
JSON report of what it read, for the differential test. It serves on a free
loopback port with Werkzeug's own server and prints that port on stdout.
"""

import base64
import json
import logging
import re
import sys

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

NAME = "access_token"
CLAIM_HEADERS = ["X-User-Id", "X-Roles", "X-Auth-User", "X-Jwt-Sub", "X-Jwt-Roles"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

app = Flask(__name__)


def decode(raw):
    """Reads a token's payload without verifying it (PyJWT's
    verify_signature=False, or by hand as here)."""
    out = {"raw": raw}
    try:
        seg = raw.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
        if isinstance(payload, dict):
            out["sub"] = str(payload.get("sub"))
            out["jti"] = str(payload.get("jti"))
    except Exception:  # not a token
        pass
    return out


def from_authorization(value):
    """Reads a Bearer token the two usual ways: str.split() into scheme
    and token, and a regular expression with any white space after the
    scheme (both split on every Unicode space)."""
    if value is None:
        return []
    found = []
    parts = value.split()
    if len(parts) >= 2 and parts[0].lower() == "bearer":
        found.append(parts[1])
    m = re.match(r"\s*bearer\s+(\S+)", value, re.IGNORECASE)
    if m and m.group(1) not in found:
        found.append(m.group(1))
    return found


@app.route("/", defaults={"path": ""}, methods=METHODS)
@app.route("/<path:path>", methods=METHODS)
def report(path):
    return jsonify(
        authorization=[decode(t) for t in from_authorization(request.headers.get("Authorization"))],
        cookie=[decode(t) for t in request.cookies.getlist(NAME)],
        query=[decode(t) for t in request.args.getlist(NAME)],
        headers={h: request.headers.get(h) for h in CLAIM_HEADERS},
    )


if __name__ == "__main__":
    # Werkzeug logs bad requests with their request line, tokens and all.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()
