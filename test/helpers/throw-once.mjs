/**
 * Preloaded into `arbiter serve` (`node --import`) by test/integration/entry-points.test.ts: makes one call at an
 * entry point throw `Error('injected: <point>')`, once per connection, where a test marks the connection:
 *   the `x-throw-once` request header:
 *     end            the response's first end(): a route's res.json() throws (a sync or an async handler)
 *     sse-open       an SSE stream's first write to its socket (its retry hint, in the route's handler)
 *     sse-heartbeat  an SSE stream's first heartbeat (in a timer)
 *   the socket.io handshake's query `throw-once=subscribe`: the `subscribe` handler's first socket.leave() of a type's room
 *   the WebSocket's upgrade URL `throw-once=ws-message`: the first answer to a client message, in its handler
 * The server's code is not changed: what throws is Node's, socket.io's and ws's, as a bug of theirs or ours would.
 */
import { ServerResponse } from 'node:http';
import { Socket as NetSocket } from 'node:net';
import { Socket } from 'socket.io';
import { WebSocket, WebSocketServer } from 'ws';

const done = new WeakSet();
/** Throw for `point` on `target` the first time only. */
function once(target, point) {
  if (done.has(target)) return;
  done.add(target);
  throw new Error(`injected: ${point}`);
}

const marked = (res) => res.req?.headers['x-throw-once'];

const end = ServerResponse.prototype.end;
ServerResponse.prototype.end = function (...args) {
  if (marked(this) === 'end') once(this, 'end');
  return end.apply(this, args);
};

// an SSE stream writes its frames to the socket itself once its head is out: the socket is marked at writeHead
const streams = new WeakMap();
const writeHead = ServerResponse.prototype.writeHead;
ServerResponse.prototype.writeHead = function (...args) {
  const point = marked(this);
  if (point === 'sse-open' || point === 'sse-heartbeat') streams.set(this.socket, point);
  return writeHead.apply(this, args);
};
const write = NetSocket.prototype.write;
NetSocket.prototype.write = function (chunk, ...rest) {
  const point = streams.get(this);
  const text = typeof chunk === 'string' || Buffer.isBuffer(chunk) ? String(chunk) : '';
  if (point === 'sse-open' && text.startsWith('retry:')) once(this, point);
  if (point === 'sse-heartbeat' && text === ': ping\n\n') once(this, point);
  return write.call(this, chunk, ...rest);
};

const leave = Socket.prototype.leave;
Socket.prototype.leave = function (room) {
  // the rooms of event types: left by the subscribe handler only
  if (this.handshake.query['throw-once'] === 'subscribe' && String(room).startsWith('type:')) once(this, 'subscribe');
  return leave.call(this, room);
};

const urls = new WeakMap();
const handleUpgrade = WebSocketServer.prototype.handleUpgrade;
WebSocketServer.prototype.handleUpgrade = function (req, socket, head, cb) {
  return handleUpgrade.call(this, req, socket, head, (ws, ...rest) => {
    urls.set(ws, req.url ?? '');
    cb(ws, ...rest);
  });
};
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data, ...rest) {
  // a client message is answered with a control message (`subscribed`, `error`); events have an id
  if (urls.get(this)?.includes('throw-once=ws-message') && String(data).startsWith('{"type":')) once(this, 'ws-message');
  return send.call(this, data, ...rest);
};
