import { expect, test, type Page } from "@playwright/test";

// Menu takeover, as an operator and a follower meet it: the account's backend-made menu is kept as
// the original beside the mapped menu; the original is restored through the API; a follower taps
// the mapped "Contact" item on the simulated phone and gets the text the backend item gave; the
// operator edits an item (a too-long name is refused per field first), reviews the diff, publishes,
// and rolls back.
const OPERATOR = "operator@wxhub.demo";
const PASSWORD = "wxhub-demo";
const ACCOUNT = "wx5a1c0ffee0000001"; // 华夏咖啡 Huaxia Coffee: a backend menu with every type
const COMPONENT = "wx0de0c0de0000d001";
const shots = "test-results/screenshots";

async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

test("a backend menu is mapped, restored, answered on the phone, edited, published and rolled back", async ({ page, request }) => {
  test.setTimeout(90_000);
  const simulator = process.env.SIMULATOR_URL!;
  const auth = await request.post(`${simulator}/sim/control/authorizations`, {
    data: { component_appid: COMPONENT, authorizer_appid: ACCOUNT, func_ids: [1, 2, 15] },
  });
  expect(auth.ok()).toBe(true);

  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(OPERATOR);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);

  // The account page leads to the menu's own page (the editor is not part of the account page).
  await page.goto(`/accounts/${ACCOUNT}`);
  await expect(page.locator("[data-test=menu-page-link]")).toHaveAttribute("href", `/accounts/${ACCOUNT}/menu`);

  // The original and the mapped menu, side by side, once read.
  await expect(async () => {
    await page.goto(`/accounts/${ACCOUNT}/menu`);
    await expect(page.locator("[data-test=menu-original]")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await hydrated(page);
  await expect(page.locator("h1")).toContainText("华夏咖啡 Huaxia Coffee");
  const original = page.locator("[data-test=menu-original]");
  await expect(original.locator("[data-kind=text]")).toContainText("联系 Contact");
  await expect(original.locator("[data-kind=news]")).toContainText("新品 New");
  const mapped = page.locator("[data-test=menu-mapped]");
  await expect(mapped.locator("[data-test=click-map]")).toContainText("客服电话 400-000-0000");
  await expect(mapped.locator("[data-kind=text]")).toHaveCount(0);
  await page.locator("[data-test=menu-takeover]").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/menu-original-mapped.png`, fullPage: true });

  // Restore the original as far as the API can: the mapped menu goes to WeChat.
  page.once("dialog", (dialog) => dialog.accept());
  await page.locator("[data-test=publish-mapped]").click();
  await expect(page.locator("[data-test=menu-outcome]")).toContainText("version 2");
  await expect(page.locator('[data-test=menu-history] tr[data-version="2"]')).toContainText("published");

  // A follower taps the mapped item on the phone and gets what the backend item used to answer.
  const phone = await page.context().newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${simulator}/sim/chat/${ACCOUNT}`);
  await expect(phone.locator("[data-test=menu]")).toHaveAttribute("data-source", "api");
  await phone.locator('[data-test=menu-item][data-name="更多 More"]').first().click();
  await phone.locator('[data-test=menu-item][data-name="联系 Contact"]').click();
  await expect(phone.locator("body")).toContainText("客服电话 400-000-0000");
  await phone.screenshot({ path: `${shots}/menu-phone-tap.png`, fullPage: true });

  // Edit (the editor is a page of its own): a name too long for a top-level button is refused
  // per field, in place.
  await page.reload();
  await expect(page.locator("[data-test=menu-edit-link]")).toHaveAttribute("href", `/accounts/${ACCOUNT}/menu/edit`);
  await page.goto(`/accounts/${ACCOUNT}/menu/edit`);
  await hydrated(page);
  await expect(page.locator("h1")).toContainText("Edit the menu · 华夏咖啡 Huaxia Coffee");
  const editor = page.locator("[data-test=menu-editor]");
  const firstName = editor.locator('.menu-row[data-path="1"] [data-test=menu-name]');
  await firstName.fill("一二三四五六七");
  await expect(editor.locator('.field-error[data-field="1.name"]')).toContainText("1 to 16 bytes");
  await page.locator("[data-test=menu-review]").click();
  await expect(page.locator("[data-test=menu-publish]")).toBeDisabled();
  await firstName.fill("点餐 Order");
  await expect(editor.locator('.field-error[data-field="1.name"]')).toHaveCount(0);
  await page.locator("[data-test=menu-review]").click();
  const diff = page.locator("[data-test=menu-diff]");
  await expect(diff.locator("[data-change=changed]")).toContainText("点餐 Order");
  await page.screenshot({ path: `${shots}/menu-edit-diff.png`, fullPage: true });
  // WeChat refuses once: the operator reads why, and the edit is still there to publish again.
  const fault = await request.post(`${simulator}/sim/control/faults`, {
    data: { api: "menu/create", fault: { errcode: 40018 }, times: 1 },
  });
  expect(fault.ok()).toBe(true);
  await page.locator("[data-test=menu-publish]").click();
  await expect(page.locator("[data-test=menu-error]")).toContainText("40018");
  await expect(firstName).toHaveValue("点餐 Order");
  await page.locator("[data-test=menu-review]").click();
  await page.locator("[data-test=menu-publish]").click();
  await expect(page.locator("[data-test=menu-outcome]")).toContainText("version 3");
  const live = await (await request.get(`${simulator}/sim/control/menus/${ACCOUNT}`)).json();
  expect(JSON.stringify(live.api)).toContain("点餐 Order");

  // Back on the menu page: the published version in the history; roll back to the restored original.
  await page.locator("[data-test=back-to-menu]").click();
  await expect(page.locator('[data-test=menu-history] tr[data-version="3"]')).toContainText("published");
  await hydrated(page);
  page.once("dialog", (dialog) => dialog.accept());
  await page.locator('[data-test=menu-history] tr[data-version="2"] [data-test=roll-back]').click();
  await expect(page.locator("[data-test=menu-outcome]")).toContainText("version 4");
  const back = await (await request.get(`${simulator}/sim/control/menus/${ACCOUNT}`)).json();
  expect(JSON.stringify(back.api)).toContain("点单 Order");
  expect(JSON.stringify(back.api)).not.toContain("点餐 Order");
  await page.screenshot({ path: `${shots}/menu-history.png`, fullPage: true });

  // The same section in Chinese.
  await page.locator("[data-test=lang-switch]").click();
  await expect(page.locator("[data-test=menu-takeover]")).toContainText("菜单接管");
  await page.screenshot({ path: `${shots}/menu-zh.png`, fullPage: true });
});
