// Roster called from a web page of another origin, in headless Chromium: the browser's own
// CORS checks (preflight, allowed and exposed headers) decide, as for any web app.
//
//   node cors.mjs '<JSON: { url, token, allowedPort, otherPort }>'
//
// Serves a blank page on 127.0.0.1:<allowedPort> (an origin Roster allows) and on
// 127.0.0.1:<otherPort> (one it does not), and from each sends a query with the headers a web
// app sends: `authorization`, `content-type`, `x-request-id` and Apollo Client's
// `apollographql-client-name`/`-version`. Prints what each page's `fetch` saw.
import { createServer } from "node:http";

import { launch, watchedPage } from "./browser.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");

const page = (port) =>
  new Promise((listening) => {
    const server = createServer((_, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end("<!DOCTYPE html><title>app</title>");
    });
    server.listen(port, "127.0.0.1", () => listening(server));
  });

async function callFrom(browser, port, report) {
  const tab = await watchedPage(browser, report);
  await tab.goto(`http://127.0.0.1:${port}/`);
  return tab.evaluate(
    async ({ url, token }) => {
      try {
        const response = await fetch(`${url}/graphql`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            accept: "application/graphql-response+json",
            "x-request-id": "from-the-browser-1",
            "apollographql-client-name": "roster-web",
            "apollographql-client-version": "1.0.0",
          },
          body: JSON.stringify({ query: "{ me { email } }" }),
        });
        return {
          status: response.status,
          body: await response.json(),
          requestId: response.headers.get("x-request-id"),
        };
      } catch (error) {
        return { refused: String(error) };
      }
    },
    { url: config.url, token: config.token },
  );
}

const servers = [await page(config.allowedPort), await page(config.otherPort)];
const browser = await launch();
const report = { pageErrors: [] };
try {
  report.allowed = await callFrom(browser, config.allowedPort, report);
  report.other = await callFrom(browser, config.otherPort, report);
} catch (error) {
  report.failure = error.message;
  process.exitCode = 1;
} finally {
  await browser.close();
  for (const server of servers) server.close();
}
process.stdout.write(JSON.stringify(report) + "\n", () => process.exit());
