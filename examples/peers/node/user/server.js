#!/usr/bin/env node
// user.UserService (user.proto) served with @grpc/grpc-js: node user/server.js [--addr HOST:PORT].
// The users live in memory, seeded with Alice, Bob and Carol; see ../../../README.md.
'use strict';

const { grpc, loadProto, handlers, serve, RpcError } = require('../common');

const { user } = loadProto('user-service/proto/user.proto');

const invalid = (message) => new RpcError(grpc.status.INVALID_ARGUMENT, message);

// In creation order; created_at in milliseconds since the epoch (int64: a string).
const users = [
  { id: '1', name: 'Alice', email: 'alice@example.com', created_at: '1700000000000' },
  { id: '2', name: 'Bob', email: 'bob@example.com', created_at: '1700000060000' },
  { id: '3', name: 'Carol', email: 'carol@example.com', created_at: '1700000120000' },
];
let nextId = 4;

function checkCreate({ name, email }) {
  if (name === '') throw invalid('name is required');
  if (!email.includes('@')) throw invalid(`email ${JSON.stringify(email)} has no @`);
}

function store({ name, email }) {
  const created = { id: String(nextId++), name, email, created_at: String(Date.now()) };
  users.push(created);
  return created;
}

serve('user.UserService', user.UserService.service, handlers({
  GetUser: ['unary', ({ user_id }) => {
    if (user_id === '') throw invalid('user_id is required');
    const found = users.find((u) => u.id === user_id);
    if (!found) throw new RpcError(grpc.status.NOT_FOUND, `user ${user_id} not found`);
    return found;
  }],

  CreateUser: ['unary', (request) => {
    checkCreate(request);
    return store(request);
  }],

  ListUsers: ['unary', ({ page, page_size }) => {
    if (page < 0 || page_size < 0) throw invalid('page and page_size must not be negative');
    const size = page_size === 0 ? 10 : Math.min(page_size, 100);
    const start = (Math.max(page, 1) - 1) * size;
    return { users: users.slice(start, start + size), total: users.length };
  }],

  StreamUsers: ['serverStream', ({ filter }, call) => {
    const wanted = filter.toLowerCase();
    for (const u of users) {
      if (u.name.toLowerCase().includes(wanted)) call.write(u);
    }
  }],

  // All or nothing: every request is checked before any is stored.
  CreateUsers: ['clientStream', (requests) => {
    requests.forEach(checkCreate);
    const created = requests.map(store);
    return { users: created, count: created.length };
  }],

  Chat: ['bidi', ({ id, text }) => ({ id, text: `Echo: ${text}`, timestamp: String(Date.now()) })],
}));
