// The sign-in bar of Roster's GraphiQL, driven in headless Chromium as a person would use it.
//
//   node signin.mjs '<JSON: { url, email, password, waitForRenewalMs, screenshot }>'
//
// Tries a wrong password, registers, runs `{ me { email } }` without touching the Headers
// pane, waits until the access token has been renewed (the server's ACCESS_TOKEN_TTL should
// be a few seconds) and past its first expiry, runs a query again, signs out and runs it
// once more; then, given `twoFactor: { email, password, code }`, signs in to that account, typing the code
// where the page asks for it. Prints one JSON object: what the bar and the response pane showed at each step,
// the session mutations the page sent, and every error the page logged.
import { launch, paste, responseWhen, waitMs, watchedPage } from "./browser.mjs";

const config = JSON.parse(process.argv[2] ?? "{}");
const ME = "{ me { email } }";

const browser = await launch();
const report = { pageErrors: [], sent: [] };
try {
  const page = await watchedPage(browser, report);
  page.on("request", (request) => {
    const body = request.postData();
    const name = body && /mutation (\w+)/.exec(JSON.parse(body).query ?? "");
    if (name) report.sent.push(name[1]);
  });
  await page.goto(`${config.url}/graphql`);
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor({ timeout: waitMs });

  // A wrong password: the bar says what the server said.
  await page.fill("#email", config.email);
  await page.fill("#password", "not the password at all");
  await page.click("#sign-in");
  await page.locator("#problem:not(:empty)").waitFor({ timeout: waitMs });
  report.wrongPassword = await page.textContent("#problem");

  await page.fill("#password", config.password);
  await page.click("#register");
  await page.locator("#signed-in:not([hidden])").waitFor({ timeout: waitMs });
  report.signedInAs = await page.textContent("#who");
  report.passwordLeftInForm = await page.inputValue("#password");
  const signedInAt = Date.now();

  await paste(page, ".graphiql-query-editor .CodeMirror", ME);
  await page.locator(".graphiql-execute-button").click();
  report.first = await responseWhen(page, (text) => text.includes('"me"'));
  await page.screenshot({ path: config.screenshot, fullPage: true });

  // Past the renewal and the first token's expiry.
  await page.waitForTimeout(Math.max(0, config.waitForRenewalMs - (Date.now() - signedInAt)));
  await paste(page, ".graphiql-query-editor .CodeMirror", "{ me { id email } }");
  await page.locator(".graphiql-execute-button").click();
  report.afterRenewal = await responseWhen(page, (text) => text.includes('"id"'));

  await page.click("#sign-out");
  await page.locator("#signed-out:not([hidden])").waitFor({ timeout: waitMs });
  await page.locator(".graphiql-execute-button").click();
  report.afterSignOut = await responseWhen(
    page,
    (text) => text.includes('"me": null') || text.includes('"errors"'),
  );

  if (config.twoFactor) {
    page.once("dialog", (dialog) => {
      report.codePrompt = dialog.message();
      dialog.accept(config.twoFactor.code);
    });
    await page.fill("#email", config.twoFactor.email);
    await page.fill("#password", config.twoFactor.password);
    await page.click("#sign-in");
    await page.locator("#signed-in:not([hidden])").waitFor({ timeout: waitMs });
    report.twoFactorSignedInAs = await page.textContent("#who");
  }
} catch (error) {
  report.failure = error.message;
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + "\n", () => process.exit());
