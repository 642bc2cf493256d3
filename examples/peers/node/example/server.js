#!/usr/bin/env node
// Example (example.proto, no package) served with @grpc/grpc-js:
// node example/server.js [--addr HOST:PORT].
'use strict';

const { grpc, loadProto, handlers, serve, RpcError } = require('../common');

const { Example } = loadProto('example-service/proto/example.proto');

const invalid = (message) => new RpcError(grpc.status.INVALID_ARGUMENT, message);

serve('Example', Example.service, handlers({
  // {"unary: " + message, 1}; an empty message is refused.
  Unary: ['unary', ({ message }) => {
    if (message === '') throw invalid('message is empty');
    return { message: `unary: ${message}`, index: 1 };
  }],

  // `count` answers (0 means 3, at most 100): {"stream: " + message, i}, i from 1.
  ServerStream: ['serverStream', ({ message, count }, call) => {
    if (count < 0 || count > 100) throw invalid(`count ${count} is not in 0..100`);
    const n = count === 0 ? 3 : count;
    for (let i = 1; i <= n; i++) call.write({ message: `stream: ${message}`, index: i });
  }],

  // {the messages joined with ",", how many}.
  ClientStream: ['clientStream', (requests) => ({
    message: requests.map((r) => r.message).join(','),
    index: requests.length,
  })],

  // The i-th message (from 1) answered with {"bidi: " + message, i}.
  Bidirectional: ['bidi', ({ message }, i) => ({ message: `bidi: ${message}`, index: i + 1 })],
}));
