// What the browser tests share: Debian's headless Chromium (or $CHROMIUM), and driving
// GraphiQL's editors as a person would.
import { chromium } from "playwright-core";

export const waitMs = 15_000;

/** Headless Chromium. */
export function launch() {
  return chromium.launch({
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
}

/** A new page whose logged errors go to `report.pageErrors`. */
export async function watchedPage(browser, report) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("console", (message) => {
    if (message.type() === "error") report.pageErrors.push(message.text());
  });
  page.on("pageerror", (error) => report.pageErrors.push(error.message));
  return page;
}

/** Replaces the text of the CodeMirror editor under `selector`, as pasting would. */
export async function paste(page, selector, text) {
  const editor = page.locator(selector);
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(text);
  // GraphiQL parses the document a moment after each edit (debounced); running sooner would
  // run the document as it was before, as a person who pastes and clicks at once would see.
  await page.waitForTimeout(500);
}

/** The response pane's text, parsed, once `ready` holds for it. */
export async function responseWhen(page, ready) {
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

export function timeout(promise, message) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(message)), waitMs)),
  ]);
}
