'use strict';
// What the Node interop client and server share: flag parsing in the official spellings,
// where the test certificates and protos are, and loading grpc.testing.

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// $INTEROP_CERTS_DIR, else the folder scripts/install-deps.sh fills in this checkout.
const DEFAULT_CERTS_DIR =
  process.env.INTEROP_CERTS_DIR || path.join(__dirname, '..', '..', 'target', 'interop-peers', 'certs');
const DEFAULT_PROTO_INCLUDE = '/usr/share/grpc-proto';

// `--name=value`, `--name value`, or a bare `--name` meaning true.
function parseFlags(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument: ${arg}`);
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    if (eq >= 0) {
      flags[body.slice(0, eq)] = body.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      flags[body] = argv[++i];
    } else {
      flags[body] = 'true';
    }
  }
  return flags;
}

function parseBool(name, value) {
  if (value === undefined) return false;
  const v = String(value).toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === '') return false;
  throw new Error(`--${name} must be true or false, got "${value}"`);
}

// The grpc.testing package, from Debian's grpc-proto (or --proto_include).
function loadTesting(protoInclude) {
  const packageDefinition = protoLoader.loadSync('grpc/testing/test.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [protoInclude || DEFAULT_PROTO_INCLUDE],
  });
  return grpc.loadPackageDefinition(packageDefinition).grpc.testing;
}

module.exports = { DEFAULT_CERTS_DIR, parseFlags, parseBool, loadTesting };
