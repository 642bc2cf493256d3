#!/usr/bin/env node
// @grpc/grpc-js implementation of user.UserService, used as an interop peer for wirecall.
//
// Usage: node server.js --port 50051
//
// Loads ../../proto/user.proto at run time, listens on 127.0.0.1 only and prints
// "listening on 127.0.0.1:N" once bound (with --port 0 the kernel picks N).
//
// Semantics (shared with the Rust and Python servers):
//   * the store starts with Alice (1), Bob (2) and Carol (3);
//   * GetUser of an unknown id -> NOT_FOUND "User not found";
//   * CreateUser / CreateUsers with an empty name -> INVALID_ARGUMENT "name is required";
//   * every request metadata entry whose key starts with "x-echo-" is copied into
//     the response headers, and the trailer "x-method" names the method, on
//     success and on error alike.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_PATH = path.resolve(__dirname, '..', '..', 'proto', 'user.proto');
// user.proto imports google/api/annotations.proto (its REST mapping), which wirecall-build
// bundles: the include path where it is found, besides protobufjs's own.
const INCLUDE_DIRS = [
  path.resolve(__dirname, '..', '..', 'proto'),
  path.resolve(__dirname, '..', '..', '..', '..', 'wirecall-build', 'proto'),
];
const ECHO_PREFIX = 'x-echo-';

function parseArgs(argv) {
  let port = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--port') {
      port = argv[++i];
    } else if (arg.startsWith('--port=')) {
      port = arg.slice('--port='.length);
    } else if (arg === '-h' || arg === '--help') {
      console.log('usage: node server.js --port N');
      process.exit(0);
    } else {
      console.error(`unknown argument: ${arg}`);
      process.exit(2);
    }
  }
  if (port === null || port === undefined || !/^\d+$/.test(port) || Number(port) > 65535) {
    console.error('usage: node server.js --port N');
    process.exit(2);
  }
  return { port: Number(port) };
}

function now() {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

class Store {
  constructor() {
    this.users = new Map();
    for (const [id, name, email, age] of [
      [1, 'Alice', 'alice@example.com', 30],
      [2, 'Bob', 'bob@example.com', 25],
      [3, 'Carol', 'carol@example.com', 35],
    ]) {
      this.users.set(id, { id, name, email, age, created_at: now() });
    }
  }

  get(id) {
    return this.users.get(id) || null;
  }

  // Creates a user from a CreateUserRequest; the caller has validated it.
  create(req) {
    let maxId = 0;
    for (const id of this.users.keys()) maxId = Math.max(maxId, id);
    const user = { id: maxId + 1, name: req.name, email: req.email, age: req.age, created_at: now() };
    this.users.set(user.id, user);
    return user;
  }

  all() {
    return [...this.users.values()].sort((a, b) => a.id - b.id);
  }
}

// Sends the echoed headers and returns the trailer. Call first in every handler.
function start(call, method) {
  const headers = new grpc.Metadata();
  const incoming = call.metadata;
  for (const key of Object.keys(incoming.getMap())) {
    if (!key.toLowerCase().startsWith(ECHO_PREFIX)) continue;
    for (const value of incoming.get(key)) headers.add(key, value);
  }
  call.sendMetadata(headers);
  const trailer = new grpc.Metadata();
  trailer.set('x-method', method);
  return trailer;
}

function invalidName(req) {
  return !req.name;
}

function statusError(code, details, trailer) {
  return { code, details, metadata: trailer };
}

function makeService(store) {
  return {
    GetUser(call, callback) {
      const trailer = start(call, 'GetUser');
      const user = store.get(call.request.id);
      if (!user) {
        callback(statusError(grpc.status.NOT_FOUND, 'User not found', trailer));
        return;
      }
      callback(null, user, trailer);
    },

    CreateUser(call, callback) {
      const trailer = start(call, 'CreateUser');
      if (invalidName(call.request)) {
        callback(statusError(grpc.status.INVALID_ARGUMENT, 'name is required', trailer));
        return;
      }
      callback(null, store.create(call.request), trailer);
    },

    ListUsers(call, callback) {
      const trailer = start(call, 'ListUsers');
      const page = call.request.page > 0 ? call.request.page : 1;
      const pageSize = call.request.page_size > 0 ? call.request.page_size : 10;
      const users = store.all();
      const begin = (page - 1) * pageSize;
      callback(
        null,
        { users: users.slice(begin, begin + pageSize), total: users.length, page, page_size: pageSize },
        trailer,
      );
    },

    StreamUsers(call) {
      const trailer = start(call, 'StreamUsers');
      for (const user of store.all()) call.write(user);
      call.end(trailer);
    },

    CreateUsers(call, callback) {
      const trailer = start(call, 'CreateUsers');
      const created = [];
      let done = false;
      call.on('data', (req) => {
        if (done) return;
        if (invalidName(req)) {
          done = true;
          callback(statusError(grpc.status.INVALID_ARGUMENT, 'name is required', trailer));
          return;
        }
        created.push(store.create(req));
      });
      call.on('end', () => {
        if (done) return;
        done = true;
        callback(null, { users: created, count: created.length }, trailer);
      });
      call.on('error', () => {
        done = true; // cancelled by the client: nothing left to answer
      });
    },

    Chat(call) {
      const trailer = start(call, 'Chat');
      call.on('data', (msg) => {
        call.write({ user: 'server', text: 'echo: ' + msg.text });
      });
      call.on('end', () => call.end(trailer));
      call.on('error', () => {}); // cancelled by the client
    },
  };
}

function main() {
  const { port } = parseArgs(process.argv.slice(2));
  const definition = protoLoader.loadSync(PROTO_PATH, {
    includeDirs: INCLUDE_DIRS,
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const proto = grpc.loadPackageDefinition(definition);

  const server = new grpc.Server();
  server.addService(proto.user.UserService.service, makeService(new Store()));
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
    if (err) {
      console.error(`failed to bind 127.0.0.1:${port}: ${err.message}`);
      process.exit(1);
    }
    console.log(`listening on 127.0.0.1:${bound}`);
  });

  const stop = () => {
    server.tryShutdown(() => process.exit(0));
    setTimeout(() => {
      server.forceShutdown();
      process.exit(0);
    }, 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
