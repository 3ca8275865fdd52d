// GraphQL Code Generator's client preset with persisted documents: it writes
// `persisted-documents.json` (hash to document) for the operations of an app, from Roster's
// schema.graphql.
//
//   node codegen.mjs <folder>
//
// Writes the app's source and what the preset generates into <folder>, and prints the path of
// the manifest.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { generate } from "@graphql-codegen/cli";

const [folder] = process.argv.slice(2);
if (!folder) {
  console.error("usage: node codegen.mjs <folder>");
  process.exit(2);
}
const here = new URL(".", import.meta.url).pathname;

mkdirSync(join(folder, "src"), { recursive: true });
writeFileSync(
  join(folder, "src", "app.ts"),
  `import { graphql } from "../gql";
export const Me = graphql(\`query CodegenMe { me { email profiles(first: 5) { totalCount } } }\`);
`,
);
await generate(
  {
    schema: resolve(here, "../schema.graphql"),
    documents: [join(folder, "src", "*.ts")],
    generates: {
      [join(folder, "gql") + "/"]: {
        preset: "client",
        presetConfig: { persistedDocuments: true },
      },
    },
    silent: true,
  },
  true,
);
process.stdout.write(JSON.stringify({ manifest: join(folder, "gql", "persisted-documents.json") }) + "\n");
