// Whether the schema a server serves by introspection is the checked-in schema.graphql, as
// graphql-js (the reference implementation, which every client's tooling builds on) reads
// both: every type, field, argument, default, description, deprecation and `@specifiedBy`.
//
//   node sdl.mjs <server URL> [access token]
//
// Prints {"same": true} or {"same": false, "diff": [lines of the served schema not in the
// file (+) and of the file not served (-)]}.
import { readFileSync } from "node:fs";

import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from "graphql";

const [server, token] = process.argv.slice(2);
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
const headers = { "content-type": "application/json" };
if (token) headers.authorization = `Bearer ${token}`;
const response = await fetch(new URL("/graphql", server), {
  method: "POST",
  headers,
  body: JSON.stringify({ query }),
});
const answer = await response.json();
if (answer.errors) {
  process.stdout.write(JSON.stringify({ errors: answer.errors }) + "\n");
  process.exit(1);
}
const print = (schema) => printSchema(lexicographicSortSchema(schema));
const served = print(buildClientSchema(answer.data)).split("\n");
const file = new URL("../schema.graphql", import.meta.url);
const checkedIn = print(buildSchema(readFileSync(file, "utf8"))).split("\n");
const missing = new Set(checkedIn);
const extra = new Set(served);
const diff = [
  ...served.filter((line) => !missing.has(line)).map((line) => `+ ${line}`),
  ...checkedIn.filter((line) => !extra.has(line)).map((line) => `- ${line}`),
];
const same = served.join("\n") === checkedIn.join("\n");
process.stdout.write(JSON.stringify(same ? { same } : { same, diff }) + "\n");
