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
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2] ?? "{}");
const waitMs = 15_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const report = { pageErrors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("console", (message) => {
    if (message.type() === "error") report.pageErrors.push(message.text());
  });
  page.on("pageerror", (error) => report.pageErrors.push(error.message));
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

/** Replaces the text of the CodeMirror editor under `selector`, as pasting would. */
async function paste(page, selector, text) {
  const editor = page.locator(selector);
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(text);
  // GraphiQL parses the document a moment after each edit (debounced); running sooner would
  // run the document as it was before, as a person who pastes and clicks at once would see.
  await page.waitForTimeout(500);
}

/** The response pane's text, parsed, once `ready` holds for it. */
async function responseWhen(page, ready) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const text = await page
      .locator(".graphiql-response .CodeMirror")
      .evaluate((element) => element.CodeMirror.getValue());
    if (ready(text)) return JSON.parse(text);
    if (Date.now() > deadline) throw new Error(`the response pane shows: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function timeout(promise, message) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(message)), waitMs)),
  ]);
}
