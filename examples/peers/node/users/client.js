#!/usr/bin/env node
// Calls every method of users.UserService (user_service.proto) and checks every answer
// against a freshly started server: node users/client.js [--addr HOST:PORT].
'use strict';

const common = require('../common');
const { grpc, loadProto, addrArg, metadata, ok, failed, refused, echoed, check, eq, show } = common;

const { users: pkg } = loadProto('users-service/proto/user_service.proto');
const client = new pkg.UserService(addrArg(), grpc.credentials.createInsecure());
const ECHO = metadata({}, true);

const call = (method, request, md) => common.unary(client, method, request, md);
const ids = (list) => list.map((u) => u.id);
const brief = (u) => `${u.id} ${u.name} <${u.email}> ${u.age} ${u.department} [${u.roles.join(', ')}]`;
const SEEDS = ['usr-1', 'usr-2', 'usr-3'];

let nextToken;
let dave;

common.runSteps([
  ['GetUser("usr-1") (metadata check)', async () => {
    const res = ok(await call('GetUser', { id: 'usr-1' }, ECHO));
    const u = res.answer;
    eq([u.id, u.name, u.email, u.age, u.department, u.roles],
      ['usr-1', 'Alice Johnson', 'alice@example.com', 34, 'ENGINEERING', ['admin', 'developer']], 'the user');
    eq(u.created_at && u.created_at.seconds, '1705309200', 'created_at.seconds');
    echoed(res, 'GetUser');
    return `${brief(u)} ${u.created_at.seconds}`;
  }],

  ['GetUser("usr-404")', async () => failed(refused(await call('GetUser', { id: 'usr-404' }), 'NOT_FOUND'))],

  ['ListUsers(page_size 2)', async () => {
    const res = ok(await call('ListUsers', { page_size: 2 }));
    eq(ids(res.answer.users), ['usr-1', 'usr-2'], 'the users');
    eq(res.answer.total_count, 3, 'total_count');
    nextToken = res.answer.next_page_token;
    check(nextToken !== '', 'expected a next_page_token, got an empty one');
    return `${ids(res.answer.users).join(', ')}; total_count 3; next_page_token ${show(nextToken)}`;
  }],

  ['ListUsers(page_size 2, page_token)', async () => {
    const res = ok(await call('ListUsers', { page_size: 2, page_token: nextToken }));
    eq(ids(res.answer.users), ['usr-3'], 'the users');
    eq(res.answer.total_count, 3, 'total_count');
    eq(res.answer.next_page_token, '', 'next_page_token');
    return `${ids(res.answer.users).join(', ')}; total_count 3; no next_page_token`;
  }],

  ['ListUsers(filter "department=ENGINEERING")', async () => {
    const res = ok(await call('ListUsers', { filter: 'department=ENGINEERING' }));
    eq(ids(res.answer.users), ['usr-1', 'usr-3'], 'the users');
    eq(res.answer.total_count, 2, 'total_count');
    return `${ids(res.answer.users).join(', ')}; total_count 2`;
  }],

  ['ListUsers(filter "age>30")', async () =>
    failed(refused(await call('ListUsers', { filter: 'age>30' }), 'INVALID_ARGUMENT'))],

  ['WatchUsers(["ENGINEERING"]) (metadata check)', async () => {
    // No deadline of its own: the client cancels it (every read has a time limit).
    const watch = common.openServerStream(client, 'WatchUsers', { departments: ['ENGINEERING'] }, ECHO, {});
    try {
      const first = await watch.next();
      check(first !== null, 'expected a heartbeat, got the end of the stream');
      eq([first.event_type, first.user && first.user.name], ['heartbeat', 'system'], 'the first event');
      echoed({ headers: watch.headers }, 'WatchUsers', false);

      let res = ok(await call('CreateUser', { name: 'Dave Lee', email: 'dave@example.com', age: 30, department: 'ENGINEERING' }));
      dave = res.answer;
      eq([dave.name, dave.email, dave.age, dave.department, dave.roles],
        ['Dave Lee', 'dave@example.com', 30, 'ENGINEERING', []], 'Dave');
      check(dave.id !== '' && !SEEDS.includes(dave.id), () => `expected a new id, got ${show(dave.id)}`);

      ok(await call('CreateUser', { name: 'Eve Adams', email: 'eve@example.com', age: 25, department: 'MARKETING' }));

      res = ok(await call('UpdateUser', { ...dave, age: 31, roles: ['developer'] }));
      eq([res.answer.id, res.answer.age, res.answer.roles], [dave.id, 31, ['developer']], 'the updated user');
      eq(res.answer.created_at, dave.created_at, 'created_at after UpdateUser');

      res = ok(await call('DeleteUser', { id: dave.id }));
      eq([res.answer.id, res.answer.name], [dave.id, 'Dave Lee'], 'the deleted user');

      const events = [];
      while (events.length < 3) {
        const event = await watch.next();
        check(event !== null, () => `expected 3 events, got the end of the stream after ${show(events)}`);
        if (event.event_type !== 'heartbeat') events.push(event);
      }
      eq(events.map((e) => [e.event_type, e.user.id, e.user.name, e.user.age]),
        [['created', dave.id, 'Dave Lee', 30], ['updated', dave.id, 'Dave Lee', 31], ['deleted', dave.id, 'Dave Lee', 31]],
        'the events');
      return `heartbeat, then ${events.map((e) => `${e.event_type} ${e.user.name} (${e.user.age})`).join(', ')}`;
    } finally {
      watch.cancel();
    }
  }],

  ["GetUser(Dave's id), UpdateUser(usr-404)", async () => {
    const gone = refused(await call('GetUser', { id: dave.id }), 'NOT_FOUND');
    const nobody = refused(await call('UpdateUser', { id: 'usr-404', name: 'X', email: 'x@example.com' }), 'NOT_FOUND');
    return `${failed(gone)}; ${failed(nobody)}`;
  }],

  ['CreateUser("", "nobody@example.com", 20, SALES)', async () =>
    failed(refused(await call('CreateUser', { name: '', email: 'nobody@example.com', age: 20, department: 'SALES' }),
      'INVALID_ARGUMENT'))],

  ['UploadUsers([Frank, "", Grace]) (metadata check)', async () => {
    const reqs = [
      { name: 'Frank Moore', email: 'frank@example.com', age: 45, department: 'SALES' },
      { name: '', email: 'nameless@example.com', age: 20, department: 'SALES' },
      { name: 'Grace Kim', email: 'grace@example.com', age: 29, department: 'PRODUCT' },
    ];
    const res = ok(await common.clientStream(client, 'UploadUsers', reqs, ECHO));
    eq(res.answer, { created: 2, failed: 1 }, 'the summary');
    echoed(res, 'UploadUsers');
    return `created ${res.answer.created}, failed ${res.answer.failed}`;
  }],

  ['Chat ping-pong "hello", "bye" (metadata check)', async () => {
    const requests = ['hello', 'bye'].map((content) => ({ sender: 'client', content }));
    return common.pingPong(client, 'Chat', requests, (answer, { content }) => {
      eq(answer, { sender: 'server', content: `Echo: ${content}` }, 'the answer');
      return `{${answer.sender}, ${show(answer.content)}}`;
    });
  }],

  ['Chat, 200 ms deadline, nothing sent', async () => common.expectDeadline(client, 'Chat')],
]);
