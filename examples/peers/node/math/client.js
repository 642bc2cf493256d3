#!/usr/bin/env node
// Calls math.Calculator and checks every answer: node math/client.js [--addr HOST:PORT].
'use strict';

const { grpc, addrArg, loadProto, unary, metadata, ok, failed, refused, echoed, eq, runSteps } = require('../common');

const { math } = loadProto('calculator/proto/math.proto');
const client = new math.Calculator(addrArg(), grpc.credentials.createInsecure());

function sum(a, b, want) {
  return [`Add(${a}, ${b})`, async () => {
    const res = ok(await unary(client, 'Add', { a, b }));
    eq(res.answer.result, want, 'result');
    return String(res.answer.result);
  }];
}

function overflow(a, b) {
  return [`Add(${a}, ${b})`, async () => failed(refused(await unary(client, 'Add', { a, b }), 'INVALID_ARGUMENT'))];
}

runSteps([
  ['Add(2, 3) (metadata check)', async () => {
    const res = ok(await unary(client, 'Add', { a: 2, b: 3 }, metadata({}, true)));
    eq(res.answer.result, 5, 'result');
    echoed(res, 'Add');
    return `${res.answer.result}, headers and trailers echoed`;
  }],
  sum(-7, 4, -3),
  sum(2147483647, 0, 2147483647),
  overflow(2147483647, 1),
  overflow(-2147483648, -1),
]);
