#!/usr/bin/env node
// users.UserService (user_service.proto) served with @grpc/grpc-js:
// node users/server.js [--addr HOST:PORT].
// The users live in memory, seeded with usr-1..usr-3; WatchUsers reports every change made
// by CreateUser, UploadUsers, UpdateUser and DeleteUser; see ../../../README.md.
'use strict';

const { grpc, loadProto, handlers, serve, RpcError } = require('../common');

const { users: pkg } = loadProto('users-service/proto/user_service.proto');
const DEPARTMENTS = pkg.Department.type.value.map((v) => v.name);

const invalid = (message) => new RpcError(grpc.status.INVALID_ARGUMENT, message);
const notFound = (id) => new RpcError(grpc.status.NOT_FOUND, `user ${id} not found`);
const at = (seconds) => ({ seconds: String(seconds), nanos: 0 });

// In creation order; enums by name, int64 as strings (the loader's options).
const users = [
  { id: 'usr-1', name: 'Alice Johnson', email: 'alice@example.com', age: 34, department: 'ENGINEERING',
    roles: ['admin', 'developer'], created_at: at(1705309200) },
  { id: 'usr-2', name: 'Bob Smith', email: 'bob@example.com', age: 28, department: 'MARKETING',
    roles: ['editor'], created_at: at(1708425000) },
  { id: 'usr-3', name: 'Carol Davis', email: 'carol@example.com', age: 41, department: 'ENGINEERING',
    roles: ['developer'], created_at: at(1709648100) },
];
let nextId = 4;

// The open WatchUsers streams: {departments: Set (empty: every one), call}.
const watchers = new Set();

function report(eventType, user) {
  for (const w of watchers) {
    if (w.departments.size === 0 || w.departments.has(user.department)) {
      w.call.write({ event_type: eventType, user });
    }
  }
}

function checkUser({ name, email, age }) {
  if (name === '') throw invalid('name is required');
  if (!email.includes('@')) throw invalid(`email ${JSON.stringify(email)} has no @`);
  if (age < 0) throw invalid(`age ${age} is negative`);
}

function find(id) {
  const index = users.findIndex((u) => u.id === id);
  if (index < 0) throw notFound(id);
  return index;
}

function create({ name, email, age, department }) {
  checkUser({ name, email, age });
  const ms = Date.now();
  const user = {
    id: `usr-${nextId++}`, name, email, age, department, roles: [],
    created_at: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 },
  };
  users.push(user);
  report('created', user);
  return user;
}

function listUsers({ page_size, page_token, filter }) {
  let matching = users;
  if (filter !== '') {
    const m = /^department=(.*)$/.exec(filter);
    if (!m || !DEPARTMENTS.includes(m[1])) {
      throw invalid(`filter ${JSON.stringify(filter)}: expected department=NAME`);
    }
    matching = users.filter((u) => u.department === m[1]);
  }
  if (page_size < 0) throw invalid('page_size must not be negative');
  const size = page_size === 0 ? 10 : Math.min(page_size, 100);
  if (page_token !== '' && !/^\d{1,9}$/.test(page_token)) {
    throw invalid(`page_token ${JSON.stringify(page_token)} is not one of mine`);
  }
  const start = page_token === '' ? 0 : Number(page_token);
  const end = start + size;
  return {
    users: matching.slice(start, end),
    next_page_token: end < matching.length ? String(end) : '',
    total_count: matching.length,
  };
}

// Heartbeats at once and every second, and every change in `departments`, until the client
// cancels or its deadline passes.
function watchUsers({ departments }, call) {
  const unknown = departments.filter((d) => !DEPARTMENTS.includes(d));
  if (unknown.length > 0) throw invalid(`unknown departments: ${unknown.join(', ')}`);
  const watcher = { departments: new Set(departments), call };
  const heartbeat = () => call.write({ event_type: 'heartbeat', user: { name: 'system' } });
  heartbeat();
  const timer = setInterval(heartbeat, 1000);
  watchers.add(watcher);
  return new Promise((resolve) => {
    call.on('cancelled', () => {
      clearInterval(timer);
      watchers.delete(watcher);
      resolve();
    });
  });
}

function updateUser(request) {
  const index = find(request.id);
  checkUser(request);
  const { name, email, age, department, roles } = request;
  users[index] = { ...users[index], name, email, age, department, roles };
  report('updated', users[index]);
  return users[index];
}

function deleteUser({ id }) {
  const [user] = users.splice(find(id), 1);
  report('deleted', user);
  return user;
}

serve('users.UserService', pkg.UserService.service, handlers({
  GetUser: ['unary', ({ id }) => users[find(id)]],
  CreateUser: ['unary', create],
  ListUsers: ['unary', listUsers],
  WatchUsers: ['serverStream', watchUsers],
  // Stores every request that passes CreateUser's checks, counts the others.
  UploadUsers: ['clientStream', (requests) => {
    let created = 0;
    for (const request of requests) {
      try {
        create(request);
        created++;
      } catch (err) {
        if (!(err instanceof RpcError)) throw err;
      }
    }
    return { created, failed: requests.length - created };
  }],
  Chat: ['bidi', ({ content }) => ({ sender: 'server', content: `Echo: ${content}` })],
  UpdateUser: ['unary', updateUser],
  DeleteUser: ['unary', deleteUser],
}));
