#!/usr/bin/env bash
# Copies GraphiQL and what it runs on from tests-js/node_modules into this folder, where the
# server embeds them (api/src/http/graphiql.rs): GraphiQL works without reaching a CDN.
# To update, change the versions in tests-js/package.json, then:
#   (cd tests-js && npm install) && api/assets/graphiql/vendor.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
modules="$here/../../../tests-js/node_modules"
cp "$modules/react/umd/react.production.min.js" \
   "$modules/react-dom/umd/react-dom.production.min.js" \
   "$modules/graphql-ws/umd/graphql-ws.min.js" \
   "$modules/graphiql/graphiql.min.css" "$here/"
# The source map is not shipped; drop its reference so browsers do not ask for it.
grep -v '^//# sourceMappingURL=' "$modules/graphiql/graphiql.min.js" > "$here/graphiql.min.js"
for package in react react-dom graphql-ws graphiql; do
  node -p "const p = require('$modules/$package/package.json'); p.name + ' ' + p.version + ' (' + p.license + ')'"
done > "$here/VERSIONS"
for package in react react-dom graphql-ws graphiql; do
  printf '== %s ==\n' "$package"
  cat "$modules/$package"/LICENSE*
  printf '\n'
done > "$here/LICENSES"
