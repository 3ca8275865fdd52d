// The consistency token as a client carries it: Apollo Client 4 with the link and urql 6 with
// the exchange of docs/DEPLOYMENT.md, each writing then reading, once with its link and once
// without, against a server whose queries a standby serves.
//
//   node consistency.mjs '<JSON: { url, token, userId }>'
//
// Prints one JSON object: for each client and each way, the name written and the name read
// right after.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { Client, cacheExchange, fetchExchange, makeOperation, mapExchange } from "@urql/core";
import { map } from "rxjs";

const config = JSON.parse(process.argv[2] ?? "{}");
const WRITE = "mutation Write($n: String) { setDisplayName(displayName: $n) { id displayName } }";
const READ = "query Read($id: ID!) { user(id: $id) { id displayName } }";
const headers = { Authorization: `Bearer ${config.token}` };

// As docs/DEPLOYMENT.md shows it, for Apollo Client 4 (links speak RxJS).
function apolloConsistencyLink() {
  let consistencyToken = null;
  return new ApolloLink((operation, forward) => {
    if (consistencyToken) {
      operation.setContext(({ headers = {} }) => ({
        headers: { ...headers, "Consistency-Token": consistencyToken },
      }));
    }
    return forward(operation).pipe(
      map((result) => {
        const token = result.extensions?.consistencyToken;
        if (token) consistencyToken = token;
        return result;
      }),
    );
  });
}

// As docs/DEPLOYMENT.md shows it, for urql 6.
function urqlConsistencyExchange() {
  let consistencyToken = null;
  return mapExchange({
    onOperation: (operation) =>
      consistencyToken
        ? makeOperation(operation.kind, operation, {
            ...operation.context,
            fetchOptions: {
              ...operation.context.fetchOptions,
              headers: { ...operation.context.fetchOptions?.headers, "Consistency-Token": consistencyToken },
            },
          })
        : operation,
    onResult: (result) => {
      const token = result.extensions?.consistencyToken;
      if (token) consistencyToken = token;
    },
  });
}

async function apollo(withLink, name) {
  const http = new HttpLink({ uri: `${config.url}/graphql`, headers });
  const client = new ApolloClient({
    link: withLink ? apolloConsistencyLink().concat(http) : http,
    cache: new InMemoryCache(),
  });
  await client.mutate({ mutation: gql(WRITE), variables: { n: name } });
  const read = await client.query({ query: gql(READ), variables: { id: config.userId }, fetchPolicy: "network-only" });
  return { wrote: name, read: read.data.user.displayName };
}

async function urql(withExchange, name) {
  const client = new Client({
    url: `${config.url}/graphql`,
    fetchOptions: { headers },
    exchanges: withExchange
      ? [urqlConsistencyExchange(), cacheExchange, fetchExchange]
      : [cacheExchange, fetchExchange],
  });
  const wrote = await client.mutation(WRITE, { n: name }).toPromise();
  if (wrote.error) throw wrote.error;
  const read = await client.query(READ, { id: config.userId }, { requestPolicy: "network-only" }).toPromise();
  if (read.error) throw read.error;
  return { wrote: name, read: read.data.user.displayName };
}

const report = {};
try {
  report.apolloWithout = await apollo(false, "Apollo without");
  report.apolloWith = await apollo(true, "Apollo with");
  report.urqlWithout = await urql(false, "urql without");
  report.urqlWith = await urql(true, "urql with");
} catch (error) {
  report.failure = String(error?.stack ?? error);
}
console.log(JSON.stringify(report));
