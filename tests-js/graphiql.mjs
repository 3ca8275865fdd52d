// GraphiQL, as served by Roster, driven in headless Chromium the way a person would use it.
//
//   node graphiql.mjs '<JSON: { url, token, query, subscription, trigger: { token, query,
//                       variables }, screenshot }>'
//
// Opens <url>/graphql, pastes {"Authorization": "Bearer <token>"} into the Headers pane, runs
// <query>, then runs <subscription>; once its WebSocket is acknowledged, sends the trigger
// mutation over HTTP (as another client would) and waits for the event in the response pane.
// Prints one JSON object: what the response pane showed after the query and after the event,
// the WebSocket's subprotocol, and every error the page logged. Saves a screenshot.
// Chromium is Debian's (/usr/bin/chromium), or $CHROMIUM.
import { launch, paste, responseWhen, timeout, waitMs, watchedPage } from "./browser.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");

const browser = await launch();
const report = { pageErrors: [] };
try {
  const page = await watchedPage(browser, report);
  const acknowledged = new Promise((resolve) => {
    page.on("websocket", (socket) => {
      socket.on("framereceived", ({ payload }) => {
        if (String(payload).includes('"connection_ack"')) resolve(socket.url());
      });
    });
  });

  await page.goto(`${config.url}/graphql`);
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor({ timeout: waitMs });

  // Headers: open the tab, paste the token.
  await page.getByRole("button", { name: "Headers" }).click();
  await paste(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
    JSON.stringify({ Authorization: `Bearer ${config.token}` }));

  await paste(page, ".graphiql-query-editor .CodeMirror", config.query);
  await page.locator(".graphiql-execute-button").click();
  report.query = await responseWhen(page, (text) => text.includes('"data"') || text.includes('"errors"'));

  await paste(page, ".graphiql-query-editor .CodeMirror", config.subscription);
  await page.locator(".graphiql-execute-button").click();
  report.socketUrl = await timeout(acknowledged, "the WebSocket was not acknowledged");
  // The server registers the subscription right after the acknowledgement.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const trigger = await fetch(`${config.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${config.trigger.token}`,
    },
    body: JSON.stringify({ query: config.trigger.query, variables: config.trigger.variables }),
  });
  report.trigger = await trigger.json();
  report.event = await responseWhen(page, (text) => text.includes('"kind"'));
  await page.screenshot({ path: config.screenshot, fullPage: true });
} catch (error) {
  report.failure = error.message;
  process.exitCode = 1;
} finally {
  await browser.close();
}
// Exit at once: Node would otherwise wait for the idle keep-alive connection of `fetch`.
process.stdout.write(JSON.stringify(report) + "\n", () => process.exit());
