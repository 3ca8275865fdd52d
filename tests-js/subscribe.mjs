// A subscriber written with graphql-ws, the reference client of graphql-transport-ws.
//
//   node subscribe.mjs <server URL> <access token> <subscription> [variables as JSON] [count]
//
// Prints one JSON line per step: {"connected":true} once the server acknowledged the
// connection, then each result as it arrives ({"next": …}), then {"complete":true} after
// <count> results (default 1) or when the server ends the subscription. Errors and closes
// print {"error": …} and exit with status 1.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [server, token, query, variables = "{}", count = "1"] = process.argv.slice(2);
if (!server || !token || !query) {
  console.error("usage: node subscribe.mjs <server URL> <access token> <subscription> [variables] [count]");
  process.exit(2);
}

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const fail = (error) => {
  const message = error instanceof Error ? error.message : error;
  // A CloseEvent: report its code and reason.
  print({ error: error && error.code ? { code: error.code, reason: error.reason } : String(message) });
  process.exit(1);
};

const url = new URL("/graphql", server);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
const client = createClient({
  url: url.toString(),
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  lazy: false,
  retryAttempts: 0,
  on: {
    connected: () => print({ connected: true }),
    closed: (event) => {
      if (event.code !== 1000) fail(event);
    },
  },
});

let left = Number(count);
try {
  for await (const result of client.iterate({ query, variables: JSON.parse(variables) })) {
    print({ next: result });
    left -= 1;
    if (left === 0) break;
  }
  print({ complete: true });
  await client.dispose();
  process.exit(0);
} catch (error) {
  fail(Array.isArray(error) ? JSON.stringify(error) : error);
}
