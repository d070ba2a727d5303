// node-chat: a WebSocket chat service (the npm `ws` package) with a protocol of its own.
// The protocol is described in README.md; the settings come from the environment:
//   NODE_CHAT_TOKEN (required), NODE_CHAT_HOST (127.0.0.1), NODE_CHAT_PORT (8080; 0: any free),
//   NODE_CHAT_DRAIN_TIMEOUT_S (5).
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");
const { WebSocketServer } = require("ws");

const PROTOCOL = "node-chat/1";
const NICK = /^[a-z0-9_-]{1,32}$/;
const CHANNEL = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_BODY = 4000;
const MAX_REF = 64;

function fail(message) {
  process.stderr.write(`node-chat: ${message}\n`);
  process.exit(2);
}

function number(name, fallback, { min, max }) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    fail(`${name}=${JSON.stringify(raw)} is not a number from ${min} to ${max}`);
  }
  return value;
}

const config = {
  token: process.env.NODE_CHAT_TOKEN || fail("set NODE_CHAT_TOKEN (the token clients present)"),
  host: process.env.NODE_CHAT_HOST || "127.0.0.1",
  port: number("NODE_CHAT_PORT", 8080, { min: 0, max: 65535 }),
  drainMs: number("NODE_CHAT_DRAIN_TIMEOUT_S", 5, { min: 0, max: 3600 }) * 1000,
};

// Compared as digests, so the comparison takes the same time whatever the token's length.
const expected = crypto.createHash("sha256").update(config.token).digest();
function tokenMatches(given) {
  const digest = crypto.createHash("sha256").update(given).digest();
  return crypto.timingSafeEqual(digest, expected);
}

let draining = false;
const nicks = new Map(); // nick -> client
const channels = new Map(); // channel -> { count, members: Set<client> }

function plain(res, status, text) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}

function refuse(socket, status, reason, headers = {}) {
  const lines = [`HTTP/1.1 ${status} ${reason}`, "content-type: text/plain; charset=utf-8"];
  for (const [key, value] of Object.entries(headers)) lines.push(`${key}: ${value}`);
  const body = reason.toLowerCase();
  lines.push(`content-length: ${Buffer.byteLength(body)}`, "connection: close", "", body);
  socket.end(lines.join("\r\n"));
}

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, "http://localhost");
  if (req.method === "GET" && pathname === "/healthz") {
    if (draining) plain(res, 503, "draining");
    else plain(res, 200, "ok");
  } else if (pathname === "/chat") {
    res.setHeader("upgrade", "websocket");
    plain(res, 426, "upgrade required");
  } else {
    plain(res, 404, "not found");
  }
});

const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname !== "/chat") return refuse(socket, 404, "Not Found");
  if (draining) return refuse(socket, 503, "Service Unavailable");
  const token = url.searchParams.get("token");
  if (token === null || !tokenMatches(token)) {
    return refuse(socket, 401, "Unauthorized", { "www-authenticate": 'Token realm="node-chat"' });
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws));
});

function send(client, message) {
  client.ws.send(JSON.stringify(message));
}

function problem(client, code, detail, ref) {
  send(client, { type: "problem", code, detail, ...(ref === undefined ? {} : { ref }) });
}

function leave(client, name) {
  const channel = channels.get(name);
  client.channels.delete(name);
  if (!channel) return;
  channel.members.delete(client);
  if (channel.members.size === 0) {
    channels.delete(name); // an empty channel forgets its count
    return;
  }
  for (const member of channel.members) {
    send(member, { type: "departed", channel: name, nick: client.nick });
  }
}

const handlers = {
  hello(client, message, ref) {
    if (client.nick !== null) return problem(client, "bad_field", "hello was sent already", ref);
    if (typeof message.nick !== "string" || !NICK.test(message.nick)) {
      return problem(client, "bad_field", "nick must match [a-z0-9_-]{1,32}", ref);
    }
    if (nicks.has(message.nick)) return problem(client, "nick_taken", message.nick, ref);
    client.nick = message.nick;
    nicks.set(client.nick, client);
    send(client, { type: "hello_ok", nick: client.nick, ...(ref === undefined ? {} : { ref }) });
  },
  enter(client, message, ref) {
    const name = message.channel;
    if (typeof name !== "string" || !CHANNEL.test(name)) {
      return problem(client, "bad_field", "channel must match [A-Za-z0-9_.-]{1,64}", ref);
    }
    let channel = channels.get(name);
    if (!channel) {
      channel = { count: 0, members: new Set() };
      channels.set(name, channel);
    }
    if (!channel.members.has(client)) {
      for (const member of channel.members) {
        send(member, { type: "arrived", channel: name, nick: client.nick });
      }
      channel.members.add(client);
      client.channels.add(name);
    }
    const present = [...channel.members].map((member) => member.nick).sort();
    send(client, { type: "entered", channel: name, present, ...(ref === undefined ? {} : { ref }) });
  },
  post(client, message, ref) {
    const name = message.channel;
    const body = message.body;
    if (typeof name !== "string" || !CHANNEL.test(name)) {
      return problem(client, "bad_field", "channel must match [A-Za-z0-9_.-]{1,64}", ref);
    }
    if (typeof body !== "string" || body.length === 0 || body.length > MAX_BODY) {
      return problem(client, "bad_field", `body must be 1 to ${MAX_BODY} characters`, ref);
    }
    if (!client.channels.has(name)) return problem(client, "not_in_channel", name, ref);
    const channel = channels.get(name);
    channel.count += 1;
    const n = channel.count;
    send(client, { type: "posted", channel: name, n, ...(ref === undefined ? {} : { ref }) });
    for (const member of channel.members) {
      send(member, { type: "said", channel: name, n, nick: client.nick, body });
    }
  },
  part(client, message, ref) {
    const name = message.channel;
    if (typeof name !== "string" || !CHANNEL.test(name)) {
      return problem(client, "bad_field", "channel must match [A-Za-z0-9_.-]{1,64}", ref);
    }
    if (!client.channels.has(name)) return problem(client, "not_in_channel", name, ref);
    leave(client, name);
    send(client, { type: "parted", channel: name, ...(ref === undefined ? {} : { ref }) });
  },
};

function handle(client, data, isBinary) {
  let message;
  try {
    message = isBinary ? null : JSON.parse(data.toString("utf8"));
  } catch {
    message = null;
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    return problem(client, "bad_json", "every frame is a JSON object in a text frame");
  }
  const ref = message.ref;
  if (ref !== undefined && (typeof ref !== "string" || ref.length < 1 || ref.length > MAX_REF)) {
    return problem(client, "bad_field", `ref must be a string of 1 to ${MAX_REF} characters`);
  }
  const handler = Object.hasOwn(handlers, message.type) ? handlers[message.type] : undefined;
  if (handler === undefined) {
    return problem(client, "unknown_type", String(message.type), ref);
  }
  if (client.nick === null && message.type !== "hello") {
    return problem(client, "hello_first", "send hello with a nick first", ref);
  }
  handler(client, message, ref);
}

wss.on("connection", (ws) => {
  const client = { ws, nick: null, channels: new Set() };
  ws.on("message", (data, isBinary) => handle(client, data, isBinary));
  ws.on("close", () => {
    for (const name of [...client.channels]) leave(client, name);
    if (client.nick !== null && nicks.get(client.nick) === client) nicks.delete(client.nick);
  });
  ws.on("error", () => ws.terminate());
  const session = `s-${crypto.randomBytes(4).toString("hex")}`;
  send(client, { type: "welcome", protocol: PROTOCOL, session });
});

function shutdown(signal) {
  if (draining) return;
  draining = true;
  process.stdout.write(`node-chat: ${signal}: closing ${wss.clients.size} socket(s)\n`);
  for (const ws of wss.clients) ws.close(1001, "going away");
  server.close();
  const finish = () => {
    process.stdout.write("node-chat: stopped\n");
    process.exit(0);
  };
  if (wss.clients.size === 0) return finish();
  const timer = setTimeout(() => {
    for (const ws of wss.clients) ws.terminate();
    finish();
  }, config.drainMs);
  const check = () => {
    if (wss.clients.size === 0) {
      clearTimeout(timer);
      finish();
    }
  };
  for (const ws of wss.clients) ws.on("close", check);
}

process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

server.on("error", (error) => fail(`cannot listen on ${config.host}:${config.port}: ${error.message}`));
server.listen(config.port, config.host, () => {
  const { address, port } = server.address();
  const shown = address.includes(":") ? `[${address}]` : address;
  process.stdout.write(`node-chat listening on http://${shown}:${port}\n`);
});
