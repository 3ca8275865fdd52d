// Automatic persisted queries as Apollo Client 4 (PersistedQueryLink) and urql 6
// (persistedExchange) speak them, against one or more replicas of Roster.
//
//   node persisted.mjs <access token> <server URL> [<server URL> …]
//
// Each client runs the same query three times, with `network-only` so every run is a request.
// Requests go to the servers in turn (the first to the first server, the next to the next, …),
// as a load balancer without affinity would send them. Prints one JSON report: each client's
// results and the requests it made (method, whether it carried the document's text, status).
import { createHash } from "node:crypto";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { Client, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

const [token, ...servers] = process.argv.slice(2);
if (!token || servers.length === 0) {
  console.error("usage: node persisted.mjs <access token> <server URL> [<server URL> …]");
  process.exit(2);
}

const QUERY = "query PersistedMe { me { email } }";
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

// A fetch that sends each request to the next server, and records what it sent.
function balancer() {
  const requests = [];
  let next = 0;
  const fetchTo = async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const server = new URL(servers[next++ % servers.length]);
    url.protocol = server.protocol;
    url.host = server.host;
    const method = (init.method || "GET").toUpperCase();
    const text =
      method === "GET" ? url.searchParams.has("query") : JSON.parse(init.body).query !== undefined;
    const response = await fetch(url, init);
    requests.push({ server: servers.indexOf(server.origin), method, text, status: response.status });
    return response;
  };
  return { requests, fetchTo };
}

async function apollo(useGETForHashedQueries) {
  const { requests, fetchTo } = balancer();
  const http = new HttpLink({
    uri: new URL("/graphql", servers[0]).toString(),
    headers: { authorization: `Bearer ${token}` },
    fetch: fetchTo,
  });
  const client = new ApolloClient({
    link: new PersistedQueryLink({ sha256, useGETForHashedQueries }).concat(http),
    cache: new InMemoryCache(),
  });
  const results = [];
  for (let run = 0; run < 3; run++) {
    try {
      const { data } = await client.query({ query: gql(QUERY), fetchPolicy: "network-only" });
      results.push({ data });
    } catch (error) {
      results.push({ error: String(error) });
    }
  }
  return { results, requests };
}

async function urql() {
  const { requests, fetchTo } = balancer();
  const client = new Client({
    url: new URL("/graphql", servers[0]).toString(),
    fetch: fetchTo,
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    exchanges: [persistedExchange({ preferGetForPersistedQueries: true }), fetchExchange],
  });
  const results = [];
  for (let run = 0; run < 3; run++) {
    const { data, error } = await client
      .query(QUERY, {}, { requestPolicy: "network-only" })
      .toPromise();
    results.push(error ? { error: String(error) } : { data });
  }
  return { results, requests };
}

const report = {
  hash: sha256(QUERY),
  apolloPost: await apollo(false),
  apolloGet: await apollo(true),
  urql: await urql(),
};
process.stdout.write(JSON.stringify(report) + "\n");
