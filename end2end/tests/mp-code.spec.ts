import { expect, test, type Page } from "@playwright/test";
// Named to run after console.spec.ts, which expects no account with permission set 17 yet.

// A mini program's code, as an operator ships it: commit a template from the library, submit it
// for audit, WeChat pushes the audit back as passed (the simulator decides it now), the page shows
// it without a reload, release, and the timeline tells version → commit → audit → released. A
// second version is rejected: its reason is on the timeline and the page, in both languages.
const OPERATOR = "operator@wxhub.demo";
const PASSWORD = "wxhub-demo";
const MP = "wx5a1c0ffee0000003";
const COMPONENT = "wx0de0c0de0000d001";
const shots = "test-results/screenshots";

async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

test("commit, audit pushed back as passed, release; a rejection on the timeline", async ({ page, request }) => {
  test.setTimeout(120_000);
  const simulator = process.env.SIMULATOR_URL!;
  const auth = await request.post(`${simulator}/sim/control/authorizations`, {
    data: { component_appid: COMPONENT, authorizer_appid: MP, func_ids: [17, 18, 19] },
  });
  expect(auth.ok()).toBe(true);

  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(OPERATOR);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);

  // The account page leads to the code page; the commit form is there once the token is.
  await expect(async () => {
    await page.goto(`/accounts/${MP}`);
    await expect(page.locator("[data-test=code-link]")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(async () => {
    await page.goto(`/accounts/${MP}/code`);
    await expect(page.locator("[data-test=commit-form]")).toBeVisible({ timeout: 1_000 });
    await expect(page.locator("[data-test=quota]")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await hydrated(page);
  await expect(page.locator("[data-test=no-code-events]")).toBeVisible();

  // Commit the first template as 1.0.0: it is the trial version.
  await page.locator("[data-test=commit-template]").selectOption({ index: 0 });
  await page.locator("[data-test=commit-version]").fill("1.0.0");
  await page.locator("[data-test=commit-desc]").fill("First release");
  await page.locator("[data-test=commit-ext]").fill(`{"extAppid": "${MP}", "name": "Shop"}`);
  await page.locator("[data-test=commit-submit]").click();
  await expect(page.locator("[data-test=trial-version]")).toContainText("1.0.0");
  await page.locator("[data-test=show-qrcode]").click();
  await expect(page.locator("[data-test=trial-qrcode]")).toBeVisible();

  // Submit for audit, with a page and a category WeChat offered.
  await page.locator("[data-test=submit-page]").selectOption({ index: 1 });
  await page.locator("[data-test=submit-category]").selectOption({ index: 1 });
  await page.locator("[data-test=submit-audit]").click();
  await expect(page.locator("[data-test=audit-status]")).toHaveAttribute("data-status", "auditing");
  await expect(page.locator("[data-test=code-release]")).toBeDisabled();

  // WeChat passes it and pushes weapp_audit_success; the page sees it by itself.
  const decided = await request.post(`${simulator}/sim/control/audits`, { data: { authorizer_appid: MP, outcome: "pass" } });
  expect(decided.ok()).toBe(true);
  expect((await decided.json()).pushed.answer).toBe("success");
  await expect(page.locator("[data-test=audit-status]")).toHaveAttribute("data-status", "passed", { timeout: 15_000 });

  await page.locator("[data-test=code-release]").click();
  await expect(page.locator("[data-test=live-version]")).toContainText("1.0.0");
  const kinds = page.locator("[data-test=code-timeline] > li");
  await expect(kinds).toHaveCount(4);
  expect(await kinds.evaluateAll((items) => items.map((i) => i.getAttribute("data-kind")))).toEqual([
    "released",
    "audit_passed",
    "submitted",
    "committed",
  ]);
  await page.screenshot({ path: `${shots}/code-released.png`, fullPage: true });

  // Version 1.1.0 is rejected: the reason on the audit card and the timeline.
  await page.locator("[data-test=commit-template]").selectOption({ index: 1 });
  await page.locator("[data-test=commit-version]").fill("1.1.0");
  await page.locator("[data-test=commit-desc]").fill("Coupons");
  await page.locator("[data-test=commit-ext]").fill("");
  await page.locator("[data-test=commit-submit]").click();
  await expect(page.locator("[data-test=trial-version]")).toContainText("1.1.0");
  await page.locator("[data-test=submit-audit]").click();
  await expect(page.locator("[data-test=audit-status]")).toHaveAttribute("data-status", "auditing");
  const rejected = await request.post(`${simulator}/sim/control/audits`, {
    data: { authorizer_appid: MP, outcome: "fail", reason: "小程序内容与类目不符 / Content does not match the category" },
  });
  expect(rejected.ok()).toBe(true);
  await expect(page.locator("[data-test=audit-status]")).toHaveAttribute("data-status", "rejected", { timeout: 15_000 });
  await expect(page.locator("[data-test=audit-reason]")).toContainText("Content does not match the category");
  await expect(page.locator('[data-test=code-timeline] > li[data-kind="audit_failed"]')).toContainText("小程序内容与类目不符");
  await expect(page.locator("[data-test=live-version]")).toContainText("1.0.0");

  // Garbage ext_json is refused before WeChat sees it; nothing is committed.
  await page.locator("[data-test=commit-version]").fill("1.2.0");
  await page.locator("[data-test=commit-ext]").fill("{nope");
  await page.locator("[data-test=commit-submit]").click();
  await expect(page.locator("[data-test=code-error]").first()).toBeVisible();
  await expect(page.locator("[data-test=trial-version]")).toContainText("1.1.0");
  await page.screenshot({ path: `${shots}/code-rejected.png`, fullPage: true });

  await page.context().addCookies([{ name: "wxhub_lang", value: "zh", url: page.url() }]);
  await page.goto(`/accounts/${MP}/code`);
  await expect(page.locator("[data-test=code-title]")).toContainText("代码与发布");
  await expect(page.locator('[data-test=code-timeline] > li[data-kind="audit_failed"]')).toContainText("审核被拒");
  await page.screenshot({ path: `${shots}/code-rejected-zh.png`, fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.screenshot({ path: `${shots}/code-phone-zh.png`, fullPage: true });
  await page.context().clearCookies({ name: "wxhub_lang" });

  // The releases page: the library with the draft to promote, and a batch.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/releases");
  await hydrated(page);
  await expect(page.locator("[data-test=library] [data-test=templates] tbody tr")).toHaveCount(2);

  // A batch: the second template to the mini program, committed only.
  const batch = page.locator("[data-test=batch-form]");
  await batch.locator("[data-test=batch-template]").selectOption({ index: 1 });
  await batch.locator('input[name="form[user_version]"]').fill("1.3.0");
  await batch.locator("[data-test=batch-start]").click();
  await expect(page.locator("[data-test=batch] tr[data-status=committed]")).toHaveCount(1, { timeout: 15_000 });
  await expect(page.locator("[data-test=batch-summary]").first()).toContainText("1 committed");

  // A fast registration: WeChat pushes back and the new mini program is the tenant's.
  const register = page.locator("[data-test=register-form]");
  await register.locator("[data-test=register-name]").fill("小鹿科技有限公司");
  await register.locator("[data-test=register-code]").fill("91440300MA5DEMO001");
  await register.locator("[data-test=register-wechat]").fill("fawn_legal");
  await register.locator("[data-test=register-legal]").fill("陆小鹿");
  await register.locator("[data-test=register-start]").click();
  // While the legal person has not confirmed, an admin can ask WeChat now. The simulator decides
  // after 3 s, so the waiting row is looked at when the page shows it in time, not required.
  const check = page.locator("[data-test=registrations] tr[data-status=waiting] [data-test=registration-check]");
  if (await check.waitFor({ timeout: 2_000 }).then(() => true, () => false)) {
    await page.locator("[data-test=registrations]").screenshot({ path: `${shots}/registration-waiting.png` });
    await check.click({ timeout: 1_000 }).catch(() => {}); // it may have been decided meanwhile
  }
  await expect(page.locator("[data-test=registrations] tr[data-status=succeeded]")).toHaveCount(1, { timeout: 20_000 });
  await expect(page.locator("[data-test=registration-check-error]")).toHaveCount(0);
  await page.screenshot({ path: `${shots}/releases.png`, fullPage: true });
  const newApp = await page.locator("[data-test=registrations] tr[data-status=succeeded] a").first().textContent();
  expect(newApp).toMatch(/^wx[0-9a-f]{16}$/);
  await expect(async () => {
    await page.goto(`/accounts/${newApp}`);
    await expect(page.locator("[data-test=account-name]")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
});
