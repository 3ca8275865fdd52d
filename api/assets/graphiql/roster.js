// GraphiQL for Roster: queries and mutations over HTTP, subscriptions over WebSocket
// (graphql-transport-ws). The headers of the Headers pane go with every HTTP request and,
// as the connection_init payload, with the WebSocket connection: a new connection is opened
// when they change, so a freshly pasted access token takes effect at once.
(function () {
  "use strict";

  // This page is served by GET on the GraphQL endpoint itself.
  const endpoint = new URL(window.location.pathname, window.location.href);
  const socketUrl = new URL(endpoint);
  socketUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  let current = { key: null, fetcher: null, client: null };

  function fetcherFor(headers) {
    const key = JSON.stringify(headers || {});
    if (current.key === key) {
      return current.fetcher;
    }
    if (current.client) {
      current.client.dispose();
    }
    const client = graphqlWs.createClient({
      url: socketUrl.toString(),
      connectionParams: headers || {},
      lazy: true,
      retryAttempts: 0,
    });
    const fetcher = GraphiQL.createFetcher({
      url: endpoint.toString(),
      headers: { Accept: "application/graphql-response+json, application/json" },
      wsClient: client,
    });
    current = { key, fetcher, client };
    return fetcher;
  }

  const defaultQuery = `# Welcome to Roster.
#
# 1. Sign in (or use \`register\`), and copy the accessToken:
#
#    mutation { login(email: "you@example.com", password: "…") { accessToken } }
#
# 2. Open Headers below and paste:  { "Authorization": "Bearer <accessToken>" }
#
# 3. Ask away, and watch your profiles live with:
#
#    subscription { myProfilesChanged { kind profile { name } user { email } role at } }

{
  me {
    email
    profiles(first: 10) {
      edges { role node { name users(first: 5) { edges { role node { email } } } } }
    }
  }
}
`;

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: (params, options) => fetcherFor(options && options.headers)(params, options),
      defaultQuery,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
