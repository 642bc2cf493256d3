#!/usr/bin/env node
// Calls every method of order.OrderService (order.proto) and checks every answer against a
// freshly started server: node order/client.js [--addr HOST:PORT]. The channel uses the
// article's service config (../../../order-service/service_config.json): retries on
// UNAVAILABLE and DEADLINE_EXCEEDED.
'use strict';

const fs = require('fs');
const path = require('path');
const common = require('../common');
const { grpc, loadProto, addrArg, metadata, ok, failed, refused, echoed, check, eq, near, show, statusDetails } = common;

const { order } = loadProto('order-service/proto/order.proto');
const serviceConfig = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'order-service', 'service_config.json'), 'utf8');
const client = new order.OrderService(addrArg(), grpc.credentials.createInsecure(), {
  'grpc.service_config': serviceConfig,
});

const ADMIN = { authorization: 'Bearer admin-token' };
const READER = { authorization: 'Bearer reader-token' };
const admin = (echo = false) => metadata(ADMIN, echo);
const reader = (echo = false) => metadata(READER, echo);
const call = (method, request, md) => common.unary(client, method, request, md);
const item = (product_id, quantity, unit_price) => ({ product_id, quantity, unit_price });
const brief = (o) => `${o.id} ${o.customer_id} ${o.items.length} items, total ${o.total}, ${o.status}`;

/** The details of type `typeName` in a failed call's google.rpc.Status. */
function details(res, typeName) {
  const all = statusDetails(res.trailers);
  const found = all.filter((d) => d.typeName === `google.rpc.${typeName}`).map((d) => d.value);
  check(found.length === 1, () => `expected one google.rpc.${typeName} in the status details, got ${show(all)}`);
  return found[0];
}

function sameItems(got, want) {
  eq(got.map((i) => [i.product_id, i.quantity]), want.map((i) => [i.product_id, i.quantity]), 'the items');
  got.forEach((i, n) => near(i.unit_price, want[n].unit_price, `items[${n}].unit_price`));
}

const TEA_CAKE = [item('sku-tea', 2, 3.5), item('sku-cake', 1, 4.0)];
let created;

common.runSteps([
  ['GetOrder("ord-1"), no token', async () =>
    failed(refused(await call('GetOrder', { id: 'ord-1' }), 'UNAUTHENTICATED'))],

  ['GetOrder("ord-1"), reader-token (metadata check)', async () => {
    const res = ok(await call('GetOrder', { id: 'ord-1' }, reader(true)));
    const o = res.answer;
    eq([o.id, o.customer_id, o.items.length, o.status], ['ord-1', 'cust-1', 2, 'ORDER_STATUS_CONFIRMED'], 'the order');
    near(o.total, 3.75, 'total');
    echoed(res, 'GetOrder');
    return brief(o);
  }],

  ['CreateOrder(cust-3, [tea]), reader-token', async () =>
    failed(refused(await call('CreateOrder', { customer_id: 'cust-3', items: [item('sku-tea', 2, 3.5)] }, reader()),
      'PERMISSION_DENIED'))],

  ['CreateOrder(cust-3, [tea, cake]) (metadata check)', async () => {
    const res = ok(await call('CreateOrder', { customer_id: 'cust-3', items: TEA_CAKE }, admin(true)));
    created = res.answer;
    check(created.id !== '' && !['ord-1', 'ord-2', 'ord-3'].includes(created.id), () => `expected a new id, got ${show(created.id)}`);
    eq([created.customer_id, created.status], ['cust-3', 'ORDER_STATUS_PENDING'], 'customer and status');
    near(created.total, 11.0, 'total');
    sameItems(created.items, TEA_CAKE);
    echoed(res, 'CreateOrder');
    return brief(created);
  }],

  ['GetOrder(<that id>)', async () => {
    const res = ok(await call('GetOrder', { id: created.id }, admin()));
    eq(res.answer, created, 'the order');
    return brief(res.answer);
  }],

  ['CreateOrder("", [sku-x × 0 @ -1.0])', async () => {
    const res = refused(await call('CreateOrder', { customer_id: '', items: [item('sku-x', 0, -1.0)] }, admin()), 'INVALID_ARGUMENT');
    const fields = details(res, 'BadRequest').field_violations.map((v) => v.field);
    eq(fields, ['customer_id', 'items[0].quantity', 'items[0].unit_price'], 'the BadRequest fields');
    return `${res.code}, BadRequest fields ${fields.join(', ')}`;
  }],

  ['GetOrder("ord-404")', async () => {
    const res = refused(await call('GetOrder', { id: 'ord-404' }, admin()), 'NOT_FOUND');
    eq(res.message, 'order ord-404 not found', 'the message');
    const info = details(res, 'ErrorInfo');
    eq([info.reason, info.domain, info.metadata], ['ORDER_NOT_FOUND', 'order.myapp.com', { order_id: 'ord-404' }], 'the ErrorInfo');
    return `${failed(res)}, ErrorInfo ${info.reason} ${info.domain} order_id=${info.metadata.order_id}`;
  }],

  ['ListOrders("cust-1"), reader-token (metadata check)', async () => {
    const res = ok(await common.serverStream(client, 'ListOrders', { customer_id: 'cust-1' }, reader(true)));
    eq(res.answers.map((o) => o.id), ['ord-1', 'ord-2'], 'the orders');
    echoed(res, 'ListOrders');
    return res.answers.map((o) => o.id).join(', ');
  }],

  ['ListOrders("cust-3")', async () => {
    const res = ok(await common.serverStream(client, 'ListOrders', { customer_id: 'cust-3' }, admin()));
    eq(res.answers, [created], 'the orders');
    return res.answers.map((o) => o.id).join(', ');
  }],

  ['UploadLineItems([a, b, c]) (metadata check)', async () => {
    const items = [item('a', 2, 1.5), item('b', 1, 3.0), item('c', 4, 0.25)];
    const res = ok(await common.clientStream(client, 'UploadLineItems', items, admin(true)));
    const s = res.answer;
    eq([s.item_count, s.total_quantity], [3, 7], 'item_count and total_quantity');
    near(s.total_amount, 7.0, 'total_amount');
    echoed(res, 'UploadLineItems');
    return `item_count ${s.item_count}, total_quantity ${s.total_quantity}, total_amount ${s.total_amount}`;
  }],

  ['UploadLineItems([a, b × 0])', async () => {
    const items = [item('a', 1, 1.0), item('b', 0, 1.0)];
    const res = refused(await common.clientStream(client, 'UploadLineItems', items, admin()), 'INVALID_ARGUMENT');
    const fields = details(res, 'BadRequest').field_violations.map((v) => v.field);
    eq(fields, ['items[1].quantity'], 'the BadRequest fields');
    return `${res.code}, BadRequest fields ${fields.join(', ')}`;
  }],

  ['OrderChat ping-pong "hello", "bye" (metadata check)', async () => {
    const requests = ['hello', 'bye'].map((text) => ({ order_id: 'ord-1', sender: 'client', text }));
    return common.pingPong(client, 'OrderChat', requests, (answer, { text }) => {
      eq(answer, { order_id: 'ord-1', sender: 'server', text: `Echo: ${text}` }, 'the answer');
      return `{${answer.order_id}, ${answer.sender}, ${show(answer.text)}}`;
    }, admin(true));
  }],

  ['OrderChat, 200 ms deadline, nothing sent', async () => common.expectDeadline(client, 'OrderChat', admin())],
]);
