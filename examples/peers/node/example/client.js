#!/usr/bin/env node
// Calls every method of Example (example.proto) and checks every answer:
// node example/client.js [--addr HOST:PORT].
'use strict';

const common = require('../common');
const { grpc, loadProto, addrArg, metadata, ok, failed, refused, echoed, eq, show } = common;

const { Example } = loadProto('example-service/proto/example.proto');
const client = new Example(addrArg(), grpc.credentials.createInsecure());
const ECHO = metadata({}, true);

const brief = (resps) => resps.map((r) => `{${show(r.message)}, ${r.index}}`).join(', ');

common.runSteps([
  ['Unary("hi") (metadata check)', async () => {
    const res = ok(await common.unary(client, 'Unary', { message: 'hi' }, ECHO));
    eq(res.answer, { message: 'unary: hi', index: 1 }, 'the answer');
    echoed(res, 'Unary');
    return brief([res.answer]);
  }],

  ['Unary("")', async () =>
    failed(refused(await common.unary(client, 'Unary', { message: '' }), 'INVALID_ARGUMENT'))],

  ['ServerStream("s", 4) (metadata check)', async () => {
    const res = ok(await common.serverStream(client, 'ServerStream', { message: 's', count: 4 }, ECHO));
    eq(res.answers, [1, 2, 3, 4].map((index) => ({ message: 'stream: s', index })), 'the answers');
    echoed(res, 'ServerStream');
    return brief(res.answers);
  }],

  ['ServerStream("s", 0)', async () => {
    const res = ok(await common.serverStream(client, 'ServerStream', { message: 's', count: 0 }));
    eq(res.answers.length, 3, 'the number of answers');
    return `${res.answers.length} answers`;
  }],

  ['ServerStream("s", 101)', async () =>
    failed(refused(await common.serverStream(client, 'ServerStream', { message: 's', count: 101 }), 'INVALID_ARGUMENT'))],

  ['ClientStream(["x", "y", "z"]) (metadata check)', async () => {
    const reqs = ['x', 'y', 'z'].map((message) => ({ message, count: 0 }));
    const res = ok(await common.clientStream(client, 'ClientStream', reqs, ECHO));
    eq(res.answer, { message: 'x,y,z', index: 3 }, 'the answer');
    echoed(res, 'ClientStream');
    return brief([res.answer]);
  }],

  ['Bidirectional ping-pong "p", "q" (metadata check)', async () =>
    common.pingPong(client, 'Bidirectional', [{ message: 'p' }, { message: 'q' }], (answer, { message }, i) => {
      eq(answer, { message: `bidi: ${message}`, index: i + 1 }, 'the answer');
      return brief([answer]);
    })],

  ['Bidirectional, 200 ms deadline, nothing sent', async () => common.expectDeadline(client, 'Bidirectional')],
]);
