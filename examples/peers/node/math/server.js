#!/usr/bin/env node
// math.Calculator served with @grpc/grpc-js: node math/server.js [--addr HOST:PORT].
// Add(a, b) answers a + b, or INVALID_ARGUMENT when the sum does not fit an int32.
'use strict';

const { grpc, loadProto, handlers, serve, RpcError } = require('../common');

const { math } = loadProto('calculator/proto/math.proto');

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function add({ a, b }) {
  const result = a + b;
  if (result < INT32_MIN || result > INT32_MAX) {
    throw new RpcError(grpc.status.INVALID_ARGUMENT, `${a} + ${b} overflows int32`);
  }
  return { result };
}

serve('math.Calculator', math.Calculator.service, handlers({
  Add: ['unary', add],
}));
