<?php
// A PHP app as it usually sits behind an authenticating edge: it trusts
// the edge and only decodes the token it finds, in
// $_SERVER['HTTP_AUTHORIZATION'] and getallheaders(), $_COOKIE, $_GET and
// the query of $_SERVER['REQUEST_URI'], and answers with a JSON report of
// what it read, for the differential test. Caddy's php_fastcgi runs it on
// php-cgi.

const NAME = 'access_token';
const CLAIM_HEADERS = ['X-User-Id', 'X-Roles', 'X-Auth-User', 'X-Jwt-Sub', 'X-Jwt-Roles'];

// latin1 makes raw bytes JSON-safe: each byte becomes the code point of
// the same number, as Node and Python decode header bytes.
function latin1($s) {
    return preg_replace_callback('/[\x80-\xff]/', function ($m) {
        $b = ord($m[0]);
        return chr(0xC0 | ($b >> 6)) . chr(0x80 | ($b & 0x3F));
    }, $s);
}

// decode reads a token's payload without verifying it (firebase/php-jwt
// users do this with base64_decode and json_decode on the middle part).
function decode($raw) {
    $out = ['raw' => latin1($raw)];
    $parts = explode('.', $raw);
    $payload = json_decode(base64_decode(strtr($parts[1] ?? '', '-_', '+/')), true);
    if (is_array($payload)) {
        $out['sub'] = is_scalar($payload['sub'] ?? null) ? strval($payload['sub']) : '';
        $out['jti'] = is_scalar($payload['jti'] ?? null) ? strval($payload['jti']) : '';
    }
    return $out;
}

// strings flattens what PHP parsed (name[] and name[x] give arrays).
function strings($v) {
    if (is_string($v)) {
        return [$v];
    }
    if (is_array($v)) {
        return array_merge([], ...array_map('strings', array_values($v)));
    }
    return [];
}

// fromAuthorization reads a Bearer token the usual ways: a regular
// expression, explode on one space, and "strip the first 7 bytes".
function fromAuthorization($value) {
    if (!is_string($value)) {
        return [];
    }
    $found = [];
    if (preg_match('/^\s*Bearer\s+(\S+)/i', $value, $m)) {
        $found[] = $m[1];
    }
    $parts = explode(' ', $value);
    if (count($parts) === 2 && strcasecmp($parts[0], 'Bearer') === 0) {
        $found[] = $parts[1];
    }
    if (stripos($value, 'Bearer ') === 0) {
        $found[] = substr($value, 7);
    }
    return array_values(array_unique(array_filter($found, 'strlen')));
}

// fromRequestURI reads the query of REQUEST_URI, where PSR-7's
// ServerRequest::fromGlobals (Guzzle, Slim) and Symfony's getUri() take
// the request's URI from.
function fromRequestURI() {
    $query = parse_url($_SERVER['REQUEST_URI'] ?? '', PHP_URL_QUERY);
    if (!is_string($query)) {
        return [];
    }
    parse_str($query, $params);
    return strings($params[NAME] ?? null);
}

$all = array_change_key_case(getallheaders(), CASE_LOWER);
$auth = array_merge(
    fromAuthorization($_SERVER['HTTP_AUTHORIZATION'] ?? null),
    fromAuthorization($all['authorization'] ?? null)
);
$headers = [];
foreach (CLAIM_HEADERS as $h) {
    $key = 'HTTP_' . strtoupper(str_replace('-', '_', $h));
    $headers[$h] = isset($_SERVER[$key]) ? latin1($_SERVER[$key]) : null;
}
header('Content-Type: application/json');
echo json_encode([
    'authorization' => array_map('decode', array_values(array_unique($auth))),
    'cookie' => array_map('decode', strings($_COOKIE[NAME] ?? null)),
    'query' => array_map('decode', array_merge(strings($_GET[NAME] ?? null), fromRequestURI())),
    'headers' => $headers,
]);
