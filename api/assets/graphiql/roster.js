// GraphiQL for Roster: queries and mutations over HTTP, subscriptions over WebSocket
// (graphql-transport-ws), and a sign-in bar.
//
// The bar signs in (or registers) with `login`/`register`, keeps the tokens in this page only
// (never in storage), sends `Authorization: Bearer <accessToken>` with every request, renews
// the access token with `refreshToken` before it expires, and signs out with `logout`. An
// `Authorization` header typed in the Headers pane wins over the bar's.
//
// The headers go with every HTTP request and, as the connection_init payload, with the
// WebSocket connection: a new connection is opened when they change (a renewed token too).
(function () {
  "use strict";

  // This page is served by GET on the GraphQL endpoint itself.
  const endpoint = new URL(window.location.pathname, window.location.href);
  const socketUrl = new URL(endpoint);
  socketUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  // The session of the sign-in bar.
  const session = { accessToken: null, refreshToken: null, email: null, renewal: null };
  const AUTH = "accessToken refreshToken expiresAt user { email }";

  let current = { key: null, fetcher: null, client: null };

  function fetcherFor(paneHeaders) {
    const headers = Object.assign({}, paneHeaders || {});
    const typed = Object.keys(headers).some((name) => name.toLowerCase() === "authorization");
    if (session.accessToken && !typed) {
      headers.Authorization = `Bearer ${session.accessToken}`;
    }
    const key = JSON.stringify(headers);
    if (current.key === key) {
      return current.fetcher;
    }
    if (current.client) {
      current.client.dispose();
    }
    const client = graphqlWs.createClient({
      url: socketUrl.toString(),
      connectionParams: headers,
      lazy: true,
      retryAttempts: 0,
    });
    const fetcher = GraphiQL.createFetcher({
      url: endpoint.toString(),
      headers: Object.assign(
        { Accept: "application/graphql-response+json, application/json" },
        headers,
      ),
      wsClient: client,
    });
    current = { key, fetcher, client };
    return fetcher;
  }

  // One mutation of the session's own, over HTTP: its data, or an Error with the server's
  // message.
  async function call(query, variables) {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    const answer = await response.json();
    if (answer.errors && answer.errors.length) {
      const error = new Error(answer.errors[0].message);
      error.extensions = answer.errors[0].extensions || {};
      throw error;
    }
    return answer.data;
  }

  const bar = {
    form: document.getElementById("session"),
    email: document.getElementById("email"),
    password: document.getElementById("password"),
    register: document.getElementById("register"),
    signOut: document.getElementById("sign-out"),
    signedOut: document.getElementById("signed-out"),
    signedIn: document.getElementById("signed-in"),
    who: document.getElementById("who"),
    problem: document.getElementById("problem"),
  };

  function show(problem) {
    const signedIn = Boolean(session.accessToken);
    bar.signedOut.hidden = signedIn;
    bar.signedIn.hidden = !signedIn;
    bar.who.textContent = session.email || "";
    bar.problem.textContent = problem || "";
  }

  // Keeps the tokens of an AuthPayload, and renews the access token before it expires: a
  // fifth of its lifetime early, at most a minute.
  function adopt(payload) {
    session.accessToken = payload.accessToken;
    session.refreshToken = payload.refreshToken;
    session.email = payload.user.email;
    clearTimeout(session.renewal);
    const lifetime = Date.parse(payload.expiresAt) - Date.now();
    const early = Math.min(60000, lifetime / 5);
    session.renewal = setTimeout(renew, Math.max(1000, lifetime - early));
    show();
  }

  function forget(problem) {
    clearTimeout(session.renewal);
    Object.assign(session, { accessToken: null, refreshToken: null, email: null, renewal: null });
    show(problem);
  }

  async function renew() {
    try {
      const data = await call(
        `mutation Renew($token: String!) { refreshToken(token: $token) { ${AUTH} } }`,
        { token: session.refreshToken },
      );
      adopt(data.refreshToken);
    } catch (error) {
      forget(`Signed out: ${error.message}`);
    }
  }

  // Registers first when `registering`, then signs in.
  async function signIn(registering) {
    const variables = { email: bar.email.value.trim(), password: bar.password.value };
    try {
      if (registering) {
        await call(
          `mutation Register($email: String!, $password: String!) {
             register(input: { email: $email, password: $password }) { email } }`,
          variables,
        );
      }
      let payload;
      try {
        const data = await call(
          `mutation SignIn($email: String!, $password: String!) {
             login(email: $email, password: $password) { ${AUTH} } }`,
          variables,
        );
        payload = data.login;
      } catch (error) {
        if (error.extensions.code !== "TWO_FACTOR_REQUIRED") throw error;
        payload = await secondFactor(error.extensions.challenge);
      }
      bar.password.value = "";
      adopt(payload);
    } catch (error) {
      show(error.message);
    }
  }

  // Asks for the code of an account with two-factor sign-in, and completes the sign-in.
  async function secondFactor(challenge) {
    const code = window.prompt("Code of your authenticator app, or a recovery code:");
    if (!code) throw new Error("Sign-in needs a code.");
    const data = await call(
      `mutation CompleteSignIn($challenge: String!, $code: String!) {
         completeLogin(challenge: $challenge, code: $code) { ${AUTH} } }`,
      { challenge, code: code.trim() },
    );
    return data.completeLogin;
  }

  async function signOut() {
    const token = session.refreshToken;
    forget();
    try {
      await call("mutation SignOut($token: String!) { logout(refreshToken: $token) }", {
        token,
      });
    } catch (error) {
      show(`The server did not end the session: ${error.message}`);
    }
  }

  bar.form.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(false);
  });
  bar.register.addEventListener("click", () => {
    if (bar.form.reportValidity()) signIn(true);
  });
  bar.signOut.addEventListener("click", signOut);

  const defaultQuery = `# Welcome to Roster. Sign in (or register) in the bar above: every
# request then carries your access token, renewed before it expires.
#
# Watch your profiles live with:
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
    }),
  );
})();
