// Signs tokens with node's jsonwebtoken, the library most tutorials use,
// for the interoperability tests. Reads a JSON array of requests on stdin:
//   [{"alg": "HS256", "key": "<secret or PKCS#8 private key PEM>",
//     "claims": {...}, "kid": "…", "expiresIn": "5m",
//     "issuer": "…", "audience": "…"}, …]
// and prints one token per line, in order. Options left out are left to
// the library's defaults, as a tutorial would.
"use strict";

const jwt = require("jsonwebtoken");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
	const tokens = JSON.parse(input).map((req) => {
		const options = {};
		if (req.alg) options.algorithm = req.alg;
		if (req.kid) options.keyid = req.kid;
		if (req.expiresIn) options.expiresIn = req.expiresIn;
		if (req.issuer) options.issuer = req.issuer;
		if (req.audience) options.audience = req.audience;
		return jwt.sign(req.claims || {}, req.key, options);
	});
	process.stdout.write(tokens.join("\n") + "\n");
});
