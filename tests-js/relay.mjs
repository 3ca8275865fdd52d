// Relay 21 with persisted queries: the compiler writes the manifest (persisted_queries.json)
// from the operations below and Roster's schema.graphql, and the runtime sends each operation
// by its id alone (`doc_id`), as Relay's documentation shows.
//
//   node relay.mjs compile <folder>         writes the sources, the artifacts and the manifest
//   node relay.mjs run <folder> <server URL>  registers, creates a profile, reads it back
//
// `run` prints one JSON report: each operation's result, and the bodies the network sent.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

import relay from "relay-runtime";

const { Environment, Network, RecordSource, Store, commitMutation, fetchQuery } = relay;

const [command, folder, server] = process.argv.slice(2);
const here = new URL(".", import.meta.url).pathname;

const OPERATIONS = `
graphql\`mutation relayClientRegisterMutation($input: RegisterInput!) {
  register(input: $input) { email }
}\`;
graphql\`mutation relayClientLoginMutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken user { id email } }
}\`;
graphql\`mutation relayClientCreateProfileMutation($name: String!) {
  createProfile(name: $name) { id name }
}\`;
graphql\`query relayClientMeQuery {
  me {
    email
    profiles(first: 10) { edges { node { id name users(first: 10) { edges { role node { email } } } } } }
  }
}\`;
`;

function compile() {
  mkdirSync(join(folder, "src"), { recursive: true });
  mkdirSync(join(folder, "__generated__"), { recursive: true });
  writeFileSync(join(folder, "src", "relayClient.js"), OPERATIONS);
  const config = {
    src: "./src",
    schema: resolve(here, "../schema.graphql"),
    language: "javascript",
    artifactDirectory: "./__generated__",
    persistConfig: { file: "./persisted_queries.json", algorithm: "SHA256" },
  };
  writeFileSync(join(folder, "relay.config.json"), JSON.stringify(config, null, 2));
  // The compiler adds to the manifest it finds, and wants one to start from.
  writeFileSync(join(folder, "persisted_queries.json"), "{}");
  execFileSync(join(here, "node_modules/.bin/relay-compiler"), ["relay.config.json"], {
    cwd: folder,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function run() {
  const artifact = createRequire(join(resolve(folder), "__generated__", "x.js"));
  const Register = artifact("./relayClientRegisterMutation.graphql.js");
  const Login = artifact("./relayClientLoginMutation.graphql.js");
  const CreateProfile = artifact("./relayClientCreateProfileMutation.graphql.js");
  const Me = artifact("./relayClientMeQuery.graphql.js");

  const sent = [];
  let token = null;
  const network = Network.create(async (params, variables) => {
    const body = params.id ? { doc_id: params.id, variables } : { query: params.text, variables };
    sent.push(body);
    const headers = { "content-type": "application/json", accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(new URL("/graphql", server), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    return response.json();
  });
  const environment = new Environment({ network, store: new Store(new RecordSource()) });
  const mutate = (mutation, variables) =>
    new Promise((done, fail) =>
      commitMutation(environment, {
        mutation,
        variables,
        onCompleted: (data, errors) => (errors ? fail(errors) : done(data)),
        onError: fail,
      }),
    );

  const account = { email: "relay@example.com", password: "correct horse battery" };
  const registered = await mutate(Register, { input: account });
  const signedIn = await mutate(Login, account);
  token = signedIn.login.accessToken;
  const created = await mutate(CreateProfile, { name: "Relay Team" });
  const me = await fetchQuery(environment, Me, {}).toPromise();
  const report = {
    registered: registered.register.email,
    created: created.createProfile.name,
    me,
    sent,
  };
  process.stdout.write(JSON.stringify(report) + "\n");
}

if (command === "compile" && folder) compile();
else if (command === "run" && folder && server) await run();
else {
  console.error("usage: node relay.mjs compile <folder> | run <folder> <server URL>");
  process.exit(2);
}
