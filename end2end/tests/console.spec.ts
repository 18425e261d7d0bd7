import { expect, test, type Page } from "@playwright/test";

// The whole journey in demo mode: an operator creates an authorization link, an account owner
// opens it and confirms on the (simulated) WeChat page, and the account appears in the console with
// its permission sets named and its menu.
const OPERATOR = "operator@wxhub.demo";
const PASSWORD = "wxhub-demo";
const ACCOUNT = "wx5a1c0ffee0000001"; // 华夏咖啡 Huaxia Coffee, a service account with a menu
const shots = "test-results/screenshots";

async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

async function signIn(page: Page) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(OPERATOR);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
}

test("an operator's link is authorized on the phone page and the account appears with its permissions and menu", async ({ page, context }) => {
  test.setTimeout(90_000);
  await signIn(page);
  await expect(page.locator("[data-test=component-health]")).toContainText("wx0de0c0de0000d001");
  await page.screenshot({ path: `${shots}/dashboard.png`, fullPage: true });

  // Create a link; the browser checks the form first.
  await page.getByRole("link", { name: "Authorization links" }).click();
  await expect(page.getByRole("heading", { name: "Authorization links", level: 1 })).toBeVisible();
  await hydrated(page);
  await page.locator("#biz_appid").fill("wx123");
  await page.locator("[data-test=create-link]").click();
  await expect(page.locator('.field-error[data-field="biz_appid"]')).toBeVisible();
  await page.locator("#biz_appid").fill("");
  await page.locator("#note").fill("Huaxia Coffee, spring campaign");
  await page.locator("#expires_in_hours").fill("48");
  await page.locator("[data-test=create-link]").click();
  const created = page.locator("[data-test=created-link] a");
  await expect(created).toBeVisible();
  const linkUrl = (await created.getAttribute("href"))!;
  expect(linkUrl).toMatch(/\/authorize\/[A-Za-z0-9]{22}$/);
  await expect(page.locator("[data-test=links] tbody tr").first()).toContainText("Huaxia Coffee, spring campaign");
  await page.screenshot({ path: `${shots}/links.png`, fullPage: true });

  // The owner's phone: the QR code and the PC link are there before any script runs.
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 375, height: 812 });
  await phone.goto(linkUrl);
  await expect(phone.locator("[data-test=qr] svg")).toBeVisible();
  await expect(phone.locator("[data-test=pc-link]")).toHaveAttribute("href", /componentloginpage\?component_appid=wx0de0c0de0000d001&pre_auth_code=/);
  await hydrated(phone);
  await phone.screenshot({ path: `${shots}/authorize-phone.png`, fullPage: true });

  // The owner follows the link to WeChat (here: the simulator) on a second tab and confirms.
  const owner = await context.newPage();
  await owner.goto(linkUrl);
  await owner.locator("[data-test=pc-link]").click();
  await expect(owner.getByRole("heading", { name: /Confirm authorization/ })).toBeVisible();
  await owner.locator(`[data-account="${ACCOUNT}"]`).check();
  await owner.getByRole("button", { name: /Authorize/ }).click();
  await owner.waitForURL(/\/done\?auth_code=/);
  await expect(owner.locator("[data-test=done]")).toHaveAttribute("data-outcome", "authorized");
  await expect(owner.locator("[data-test=landed-name]")).toHaveText("华夏咖啡 Huaxia Coffee");
  await expect(owner.locator("[data-test=landed-permissions]")).toContainText("Custom menu");
  await owner.screenshot({ path: `${shots}/authorize-done.png`, fullPage: true });

  // The page left open on the phone learns of it without a reload.
  await expect(phone.locator("[data-test=landed]")).toBeVisible({ timeout: 15_000 });
  await expect(phone.locator("[data-test=landed-name]")).toHaveText("华夏咖啡 Huaxia Coffee");
  await phone.screenshot({ path: `${shots}/authorize-phone-landed.png`, fullPage: true });

  // The console lists the account, with named permission sets and, once fetched, its menu.
  await page.goto("/accounts");
  const row = page.locator(`tr[data-appid="${ACCOUNT}"]`);
  await expect(row).toContainText("华夏咖啡 Huaxia Coffee");
  await expect(row).toContainText("Service account");
  await expect(row.locator("[data-test=token-health]")).toContainText("valid for");
  await page.screenshot({ path: `${shots}/accounts.png`, fullPage: true });
  await page.goto(`/accounts?permission=17`);
  await expect(page.locator("[data-test=no-accounts]")).toBeVisible();
  await page.goto("/accounts?q=huaxia");
  await row.locator("[data-test=account-link]").click();
  await expect(page.locator("[data-test=account-name]")).toHaveText("华夏咖啡 Huaxia Coffee");
  await expect(page.locator("[data-test=permissions]")).toContainText("Message management");
  await expect(async () => {
    await page.reload();
    await expect(page.locator("[data-test=menu-json]")).toBeAttached({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.locator(".menu-tree").first()).toContainText("点单 Order");
  await page.screenshot({ path: `${shots}/account.png`, fullPage: true });

  // The same page in Chinese, remembered across pages, and back.
  await page.locator("[data-test=lang-switch]").click();
  await expect(page.locator("[data-test=permissions]")).toContainText("消息管理");
  await expect(page.getByRole("navigation").getByRole("link", { name: "授权账号" })).toBeVisible();
  await page.screenshot({ path: `${shots}/account-zh.png`, fullPage: true });
  await page.goto("/links");
  await expect(page.getByRole("heading", { name: "授权链接", level: 1 })).toBeVisible();
  await page.locator("[data-test=lang-switch]").click();
  await expect(page.getByRole("heading", { name: "Authorization links", level: 1 })).toBeVisible();

  // Revoke the link: the list and the public page both say so.
  await hydrated(page);
  page.once("dialog", (dialog) => dialog.accept());
  await page.locator("[data-test=links] tbody tr").first().locator("[data-test=revoke-link]").click();
  await expect(page.locator("[data-test=links] tbody tr").first().locator("[data-test=link-state]")).toHaveText("Revoked");
  await phone.goto(linkUrl);
  await expect(phone.locator("[data-test=link-problem]")).toContainText("withdrawn");
  await phone.screenshot({ path: `${shots}/authorize-revoked.png`, fullPage: true });
  // Someone comes back from WeChat to the withdrawn link: nothing is done, and the page says so.
  const late = await phone.goto(`${linkUrl}/done?auth_code=queryauthcode@@@late`);
  expect(late!.status()).toBe(410);
  await expect(phone.locator("[data-test=done]")).toHaveAttribute("data-outcome", "link-revoked");
  await expect(phone.locator("[data-test=done]")).toContainText("Nothing was done");
  await phone.screenshot({ path: `${shots}/authorize-done-revoked.png`, fullPage: true });
});

test("a link that does not exist gets a clear page in the owner's language", async ({ browser }) => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 375, height: 700 } });
  const page = await context.newPage();
  const res = await page.goto("/authorize/no-such-link");
  expect(res!.status()).toBe(404);
  await expect(page.locator("[data-test=link-problem]")).toContainText("授权链接不存在");
  await page.screenshot({ path: `${shots}/authorize-unknown-zh.png`, fullPage: true });
  await context.close();
});

test("an operator creates an API key once, adds a colleague, and reads the component's callback URLs", async ({ page }) => {
  await signIn(page);

  await page.goto("/api-keys");
  await hydrated(page);
  await page.locator("[data-test=create-key]").click();
  await expect(page.locator('.field-error[data-field="name"]')).toBeVisible();
  await page.locator("#key-name").fill("billing service");
  await page.locator("[data-test=create-key]").click();
  const secret = page.locator("[data-test=secret]");
  await expect(secret).toHaveText(/^wxh_[A-Za-z0-9_-]{43}$/);
  const key = (await secret.textContent())!;
  await expect(page.locator("[data-test=keys]")).toContainText("billing service");
  await page.screenshot({ path: `${shots}/api-keys.png`, fullPage: true });
  await page.reload();
  await expect(page.locator("[data-test=keys]")).toContainText(key.slice(0, 12));
  expect(await page.content()).not.toContain(key);
  page.once("dialog", (dialog) => dialog.accept());
  await hydrated(page);
  await page.locator("[data-test=revoke-key]").first().click();
  await expect(page.locator("[data-test=key-state]").first()).toHaveText("Revoked");

  await page.goto("/users");
  await hydrated(page);
  await page.locator("#user-email").fill("colleague@wxhub.demo");
  await page.locator("#user-password").fill("short");
  await page.locator("[data-test=create-user]").click();
  await expect(page.locator('.field-error[data-field="password"]')).toBeVisible();
  await page.locator("#user-password").fill("a long enough password");
  await page.locator("[data-test=create-user]").click();
  const colleague = page.locator('[data-user="colleague@wxhub.demo"]');
  await expect(colleague.locator("[data-test=user-role]")).toHaveText("Tenant viewer");
  await colleague.locator("[data-test=toggle-role]").click();
  await expect(colleague.locator("[data-test=user-role]")).toHaveText("Tenant admin");
  await colleague.locator("[data-test=toggle-active]").click();
  await expect(colleague.locator("[data-test=user-state]")).toHaveText("Disabled");
  await expect(page.locator(`[data-user="${OPERATOR}"] [data-test=toggle-active]`)).toHaveCount(0);
  await page.screenshot({ path: `${shots}/users.png`, fullPage: true });

  await page.goto("/components");
  await hydrated(page);
  const card = page.locator('[data-component="wx0de0c0de0000d001"]');
  await expect(card.locator("[data-test=notify-url]")).toHaveText(/\/wechat\/wx0de0c0de0000d001\/notify$/);
  await expect(card.locator("[data-test=masked]")).toContainText("••••");
  await card.locator("[data-test=check-component]").click();
  await expect(card.locator("[data-test=check-result] li")).toHaveCount(3);
  await expect(card.locator("[data-test=check-result] li.bad")).toHaveCount(0);
  await card.locator("[data-test=edit-component]").click();
  await expect(page.locator("#c-appid")).toHaveValue("wx0de0c0de0000d001");
  await expect(page.locator("#c-secret")).toHaveValue("");
  await page.locator("#c-name").fill("Demo Platform");
  await page.locator("[data-test=save-component]").click();
  await expect(card.locator("h2")).toContainText("Demo Platform");
  await page.screenshot({ path: `${shots}/components.png`, fullPage: true });
});

test("a link page left open renews its code before the code expires, without a reload", async ({ page, request }) => {
  test.setTimeout(90_000);
  const simulator = process.env.SIMULATOR_URL!;
  // Codes that live 20 s: the page must fetch a new one about 4 s before each expires.
  expect((await request.put(`${simulator}/sim/control/lifetimes`, { data: { pre_auth_code: 20 } })).ok()).toBe(true);
  try {
    await signIn(page);
    await page.goto("/links");
    await hydrated(page);
    await page.locator("#note").fill("renewal");
    await page.locator("[data-test=create-link]").click();
    const linkUrl = (await page.locator("[data-test=created-link] a").getAttribute("href"))!;
    await page.goto(linkUrl);
    await hydrated(page);
    const first = await page.locator("[data-test=pc-link]").getAttribute("href");
    const firstQr = await page.locator("[data-test=qr]").innerHTML();
    await expect.poll(() => page.locator("[data-test=pc-link]").getAttribute("href"), { timeout: 30_000 }).not.toBe(first);
    expect(await page.locator("[data-test=qr]").innerHTML()).not.toBe(firstQr);
    // The renewed code is one WeChat (the simulator) accepts.
    await page.locator("[data-test=pc-link]").click();
    await expect(page.getByRole("heading", { name: /Confirm authorization/ })).toBeVisible();
  } finally {
    await request.put(`${simulator}/sim/control/lifetimes`, { data: { pre_auth_code: 600 } });
  }
});
