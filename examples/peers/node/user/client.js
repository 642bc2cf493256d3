#!/usr/bin/env node
// Calls every method of user.UserService (user.proto) and checks every answer against a
// freshly started server: node user/client.js [--addr HOST:PORT].
'use strict';

const common = require('../common');
const { grpc, loadProto, addrArg, metadata, ok, failed, refused, echoed, check, eq, show } = common;

const { user } = loadProto('user-service/proto/user.proto');
const client = new user.UserService(addrArg(), grpc.credentials.createInsecure());
const ECHO = metadata({}, true);

const call = (method, request, md) => common.unary(client, method, request, md);
const brief = (u) => `${u.id} ${u.name} <${u.email}> ${u.created_at}`;
const names = (list) => list.map((u) => u.name);

/** created_at (ms, an int64 string) within 60 s of this clock. */
function recent(ms, what) {
  check(Math.abs(Number(ms) - Date.now()) <= 60000, () => `expected ${what} within 60 s of now, got ${ms}`);
}

let dave;

common.runSteps([
  ['GetUser("1") (metadata check)', async () => {
    const res = ok(await call('GetUser', { user_id: '1' }, ECHO));
    eq(res.answer, { id: '1', name: 'Alice', email: 'alice@example.com', created_at: '1700000000000' }, 'the user');
    echoed(res, 'GetUser');
    return brief(res.answer);
  }],

  ['GetUser("999")', async () => failed(refused(await call('GetUser', { user_id: '999' }), 'NOT_FOUND'))],

  ['CreateUser("Dave", "dave@example.com")', async () => {
    const res = ok(await call('CreateUser', { name: 'Dave', email: 'dave@example.com' }));
    dave = res.answer;
    eq([dave.name, dave.email], ['Dave', 'dave@example.com'], 'name and email');
    check(!['1', '2', '3'].includes(dave.id), () => `expected a new id, got ${show(dave.id)}`);
    recent(dave.created_at, 'created_at');
    return brief(dave);
  }],

  ["GetUser(<Dave's id>)", async () => {
    const res = ok(await call('GetUser', { user_id: dave.id }));
    eq(res.answer, dave, 'the user');
    return brief(res.answer);
  }],

  ['CreateUser("", "nobody@example.com")', async () =>
    failed(refused(await call('CreateUser', { name: '', email: 'nobody@example.com' }), 'INVALID_ARGUMENT'))],

  ['ListUsers(page 1, page_size 2)', async () => {
    const res = ok(await call('ListUsers', { page: 1, page_size: 2 }));
    eq(names(res.answer.users), ['Alice', 'Bob'], 'the users');
    eq(res.answer.total, 4, 'total');
    return `${names(res.answer.users).join(', ')}; total ${res.answer.total}`;
  }],

  ['ListUsers(page 2, page_size 2)', async () => {
    const res = ok(await call('ListUsers', { page: 2, page_size: 2 }));
    eq(names(res.answer.users), ['Carol', 'Dave'], 'the users');
    eq(res.answer.total, 4, 'total');
    return `${names(res.answer.users).join(', ')}; total ${res.answer.total}`;
  }],

  ['StreamUsers("") (metadata check)', async () => {
    const res = ok(await common.serverStream(client, 'StreamUsers', { filter: '' }, ECHO));
    eq(names(res.answers), ['Alice', 'Bob', 'Carol', 'Dave'], 'the users');
    echoed(res, 'StreamUsers');
    return names(res.answers).join(', ');
  }],

  ['StreamUsers("CAR")', async () => {
    const res = ok(await common.serverStream(client, 'StreamUsers', { filter: 'CAR' }));
    eq(names(res.answers), ['Carol'], 'the users');
    return names(res.answers).join(', ');
  }],

  ['CreateUsers([Erin, Frank]) (metadata check)', async () => {
    const reqs = [{ name: 'Erin', email: 'erin@example.com' }, { name: 'Frank', email: 'frank@example.com' }];
    const res = ok(await common.clientStream(client, 'CreateUsers', reqs, ECHO));
    eq(res.answer.count, 2, 'count');
    eq(names(res.answer.users), ['Erin', 'Frank'], 'the users');
    const ids = res.answer.users.map((u) => u.id);
    check(ids[0] !== ids[1] && ids.every((id) => !['1', '2', '3', dave.id].includes(id)),
      () => `expected two new distinct ids, got ${show(ids)}`);
    echoed(res, 'CreateUsers');
    return `count ${res.answer.count}: ${res.answer.users.map(brief).join(', ')}`;
  }],

  ['CreateUsers([Gina, ""]), then ListUsers', async () => {
    const reqs = [{ name: 'Gina', email: 'gina@example.com' }, { name: '', email: 'x@example.com' }];
    const res = refused(await common.clientStream(client, 'CreateUsers', reqs), 'INVALID_ARGUMENT');
    const list = ok(await call('ListUsers', { page: 1, page_size: 100 }));
    eq(list.answer.total, 6, 'total after the refused CreateUsers');
    check(!names(list.answer.users).includes('Gina'), 'expected Gina not stored, got her listed');
    return `${failed(res)}; total ${list.answer.total}`;
  }],

  ['Chat ping-pong m1, m2 (metadata check)', async () => {
    const requests = [['m1', 'hello'], ['m2', 'bye']].map(([id, text]) => ({ id, text, timestamp: String(Date.now()) }));
    return common.pingPong(client, 'Chat', requests, (answer, { id, text }) => {
      eq([answer.id, answer.text], [id, `Echo: ${text}`], 'the answer');
      recent(answer.timestamp, 'timestamp');
      return `{${answer.id}, ${show(answer.text)}}`;
    });
  }],

  ['Chat, 200 ms deadline, nothing sent', async () => common.expectDeadline(client, 'Chat')],
]);
