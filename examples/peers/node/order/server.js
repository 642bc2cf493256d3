#!/usr/bin/env node
// order.OrderService (order.proto) served with @grpc/grpc-js: node order/server.js [--addr HOST:PORT].
// Every OrderService call needs `authorization: Bearer <token>`, checked by a server interceptor
// before the handler runs (serve applies it to OrderService only: health and reflection need
// no token); errors carry google.rpc details in grpc-status-details-bin.
'use strict';

const { grpc, loadProto, handlers, guardInterceptor, serve, RpcError } = require('../common');

const { order } = loadProto('order-service/proto/order.proto');

// admin-token may call every method, reader-token only these.
const READER_METHODS = new Set(['GetOrder', 'ListOrders']);

function authorize(metadata, method) {
  const header = metadata.get('authorization');
  const m = header.length === 1 ? /^Bearer (\S+)$/.exec(String(header[0])) : null;
  if (!m) return new RpcError(grpc.status.UNAUTHENTICATED, 'expected authorization: Bearer <token>');
  const token = m[1];
  if (token === 'admin-token') return null;
  if (token === 'reader-token') {
    return READER_METHODS.has(method)
      ? null
      : new RpcError(grpc.status.PERMISSION_DENIED, `reader-token may not call ${method}`);
  }
  return new RpcError(grpc.status.UNAUTHENTICATED, 'unknown token');
}

const item = (product_id, quantity, unit_price) => ({ product_id, quantity, unit_price });
const totalOf = (items) => items.reduce((sum, i) => sum + i.quantity * i.unit_price, 0);

// In creation order; status by name (the loader's enums: String).
const orders = [
  { id: 'ord-1', customer_id: 'cust-1', items: [item('sku-apple', 3, 0.5), item('sku-bread', 1, 2.25)],
    total: 3.75, status: 'ORDER_STATUS_CONFIRMED' },
  { id: 'ord-2', customer_id: 'cust-1', items: [item('sku-milk', 2, 1.2)], total: 2.4, status: 'ORDER_STATUS_SHIPPED' },
  { id: 'ord-3', customer_id: 'cust-2', items: [item('sku-coffee', 1, 7.5)], total: 7.5, status: 'ORDER_STATUS_PENDING' },
];
let nextId = 4;

/** The field violations of item `i`, for a google.rpc.BadRequest. */
function itemViolations(it, i) {
  const violations = [];
  if (it.product_id === '') violations.push({ field: `items[${i}].product_id`, description: 'product_id is empty' });
  if (it.quantity <= 0) violations.push({ field: `items[${i}].quantity`, description: `quantity ${it.quantity} is not positive` });
  if (it.unit_price < 0) violations.push({ field: `items[${i}].unit_price`, description: `unit_price ${it.unit_price} is negative` });
  return violations;
}

function badRequest(violations) {
  return new RpcError(grpc.status.INVALID_ARGUMENT, violations.map((v) => v.description).join('; '),
    [['BadRequest', { field_violations: violations }]]);
}

function createOrder({ customer_id, items }) {
  const violations = [];
  if (customer_id === '') violations.push({ field: 'customer_id', description: 'customer_id is empty' });
  if (items.length === 0) violations.push({ field: 'items', description: 'an order needs items' });
  items.forEach((it, i) => violations.push(...itemViolations(it, i)));
  if (violations.length > 0) throw badRequest(violations);
  const created = { id: `ord-${nextId++}`, customer_id, items, total: totalOf(items), status: 'ORDER_STATUS_PENDING' };
  orders.push(created);
  return created;
}

function getOrder({ id }) {
  const found = orders.find((o) => o.id === id);
  if (!found) {
    throw new RpcError(grpc.status.NOT_FOUND, `order ${id} not found`,
      [['ErrorInfo', { reason: 'ORDER_NOT_FOUND', domain: 'order.myapp.com', metadata: { order_id: id } }]]);
  }
  return found;
}

function uploadLineItems(items) {
  items.forEach((it, i) => {
    const violations = itemViolations(it, i);
    if (violations.length > 0) throw badRequest(violations);
  });
  return {
    item_count: items.length,
    total_quantity: items.reduce((sum, i) => sum + i.quantity, 0),
    total_amount: totalOf(items),
  };
}

serve('order.OrderService', order.OrderService.service, handlers({
  CreateOrder: ['unary', createOrder],
  GetOrder: ['unary', getOrder],
  ListOrders: ['serverStream', ({ customer_id }, call) => {
    for (const o of orders) {
      if (customer_id === '' || o.customer_id === customer_id) call.write(o);
    }
  }],
  UploadLineItems: ['clientStream', uploadLineItems],
  OrderChat: ['bidi', ({ order_id, text }) => ({ order_id, sender: 'server', text: `Echo: ${text}` })],
}), { interceptors: [guardInterceptor(authorize)] });
