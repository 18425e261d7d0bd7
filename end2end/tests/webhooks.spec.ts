import { expect, test, type Page } from "@playwright/test";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

// Webhook deliveries verified by an implementation that is not ours: the `standardwebhooks` npm
// package (standardwebhooks.com's reference library). A tenant's system written against it must
// accept what wxhub sends, and refuse it when the body is tampered with.
const OPERATOR = "operator@wxhub.demo";
const PASSWORD = "wxhub-demo";

async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

type Received = { headers: Record<string, string>; body: string };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data));
  });
}

test("deliveries verify with the standardwebhooks library, and a tampered one does not", async ({ page, request }) => {
  // The tenant's receiver.
  const received: Received[] = [];
  const receiver = createServer(async (req, res) => {
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = String(v);
    received.push({ headers, body });
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const port = (receiver.address() as AddressInfo).port;

  // An API key from the console.
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(OPERATOR);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.goto("/api-keys");
  await hydrated(page);
  await page.locator("#key-name").fill("webhook receiver");
  await page.locator("[data-test=create-key]").click();
  const key = (await page.locator("[data-test=secret]").textContent())!;
  const auth = { authorization: `Bearer ${key}` };

  const created = await request.post("/api/v1/webhook-endpoints", {
    headers: auth,
    data: { url: `http://127.0.0.1:${port}/hooks`, description: "independent verifier" },
  });
  expect(created.status()).toBe(201);
  const endpoint = await created.json();
  expect(endpoint.secret).toMatch(/^whsec_/);

  const sent = await request.post(`/api/v1/webhook-endpoints/${endpoint.id}/test`, { headers: auth });
  expect(sent.status()).toBe(202);
  const { event_id } = await sent.json();
  await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(0);

  const delivery = received[0];
  expect(delivery.headers["webhook-id"]).toBe(event_id);
  const verified = new Webhook(endpoint.secret).verify(delivery.body, delivery.headers) as { type: string; data: { endpoint_id: string } };
  expect(verified.type).toBe("wxhub.test");
  expect(verified.data.endpoint_id).toBe(endpoint.id);
  expect(() => new Webhook(endpoint.secret).verify(delivery.body.replace("wxhub.test", "wxhub.evil"), delivery.headers)).toThrow();

  // After a rotation both secrets verify the next delivery (the old one for a day).
  const rotated = await (await request.post(`/api/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { headers: auth })).json();
  await request.post(`/api/v1/webhook-endpoints/${endpoint.id}/test`, { headers: auth });
  await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(1);
  for (const secret of [endpoint.secret, rotated.secret]) {
    expect(() => new Webhook(secret).verify(received[1].body, received[1].headers)).not.toThrow();
  }

  // The deliveries log says it arrived.
  const log = await (await request.get(`/api/v1/webhook-endpoints/${endpoint.id}/deliveries`, { headers: auth })).json();
  expect(log.data.map((d: { status: string }) => d.status)).toEqual(["delivered", "delivered"]);
  await request.delete(`/api/v1/webhook-endpoints/${endpoint.id}`, { headers: auth });
  receiver.close();
});

test("the Webhooks page adds an endpoint, shows its secret once, sends a test event and logs its delivery", async ({ page }) => {
  const shots = "test-results/screenshots";
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(OPERATOR);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.getByRole("link", { name: "Webhooks" }).click();
  await expect(page.getByRole("heading", { name: "Webhooks", level: 1 })).toBeVisible();
  await hydrated(page);
  // The demo's own sink is registered at start.
  await expect(page.locator("[data-test=webhooks]")).toContainText("Demo sink");

  // The browser refuses a non-http URL; the server refuses a private address it may not reach.
  await page.locator("#webhook-url").fill("ftp://example.com/");
  await page.locator("[data-test=create-webhook]").click();
  await expect(page.locator('.field-error[data-field="url"]')).toBeVisible();
  await page.locator("#webhook-url").fill("https://example.invalid/hooks");
  await page.locator("[data-test=create-webhook]").click();
  await expect(page.locator('.field-error[data-field="url"]')).toContainText("does not resolve");
  // The demo allows private networks, so a local URL is taken; its secret is shown once.
  await page.locator("#webhook-url").fill("http://127.0.0.1:9/orders");
  await page.locator("#webhook-description").fill("Orders system");
  await page.locator("#webhook-types").fill("wechat.message.*, wechat.event.subscribe");
  await page.locator("[data-test=create-webhook]").click();
  const secret = page.locator("[data-test=webhook-secret]");
  await expect(secret).toHaveText(/^whsec_/);
  const shown = (await secret.textContent())!;
  await expect(page.locator("[data-test=webhooks]")).toContainText("Orders system");
  await expect(page.locator("[data-test=webhooks]")).toContainText("wechat.message.*, wechat.event.subscribe");

  // Test the demo sink's endpoint and read its log.
  const sinkRow = page.locator("[data-test=webhooks] tbody tr", { hasText: "Demo sink" });
  await sinkRow.locator("[data-test=send-test]").click();
  await expect(page.locator("[data-test=test-sent]")).toContainText("msg_");
  await sinkRow.locator("[data-test=show-deliveries]").click();
  await expect(page.locator("[data-test=deliveries] [data-test=delivery-status]").first()).toHaveText(/Delivered/, { timeout: 10_000 });
  await expect(page.locator("[data-test=deliveries]")).toContainText("wxhub.test");
  await expect(page.locator("[data-test=deliveries]")).toContainText("HTTP 200");
  await page.screenshot({ path: `${shots}/webhooks.png`, fullPage: true });
  await page.reload();
  expect(await page.content()).not.toContain(shown);

  await page.goto("/lang/zh?next=/webhooks");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Webhooks", level: 1 })).toBeVisible();
  await expect(page.locator("[data-test=webhooks]")).toContainText("已启用");
  await page.screenshot({ path: `${shots}/webhooks-zh.png`, fullPage: true });
  await page.goto("/lang/en?next=/webhooks");
});

test("platform staff see every tenant's deliveries", async ({ page, request }) => {
  const shots = "test-results/screenshots";
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill("admin@wxhub.demo");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Webhook deliveries" }).click();
  await expect(page.getByRole("heading", { name: "Webhook deliveries", level: 1 })).toBeVisible();
  await hydrated(page);
  // The tests above delivered test events to the demo tenant's endpoints.
  await expect(page.locator("[data-test=all-deliveries]")).toContainText("Demo Retail Co.");
  await expect(page.locator("[data-test=all-deliveries]")).toContainText("wxhub.test");
  await page.locator("[data-test=delivery-status-filter]").selectOption("dead");
  await expect(page.locator("[data-test=no-deliveries]")).toBeVisible();
  await page.locator("[data-test=delivery-status-filter]").selectOption("delivered");
  await expect(page.locator("[data-test=all-deliveries]")).toContainText("Delivered");
  await page.screenshot({ path: `${shots}/platform-webhooks.png`, fullPage: true });
});

test("a message sent in the simulator reaches the console's delivery log, and the reply comes back to the simulator", async ({ page, request }) => {
  test.setTimeout(60_000);
  const shots = "test-results/screenshots";
  const simulator = process.env.SIMULATOR_URL!;
  const account = "wx5a1c0ffee0000001";
  // The owner authorizes (as the simulated WeChat would after the confirmation page).
  const auth = await request.post(`${simulator}/sim/control/authorizations`, {
    data: { component_appid: "wx0de0c0de0000d001", authorizer_appid: account, func_ids: [1, 2, 3] },
  });
  expect(auth.ok()).toBe(true);

  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(OPERATOR);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  // The account's profile arrives from the exchange; then WeChat addresses it by its original id.
  await expect.poll(async () => (await page.request.post("/ui/account", { form: { appid: account } })).status(), { timeout: 15_000 }).toBe(200);

  // A user writes to the account on the simulated phone.
  const phone = await page.context().newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${simulator}/sim/chat/${account}`);
  await phone.locator("#chat-content").fill("请问营业时间？");
  await phone.locator("#chat-send").click();
  await expect(phone.locator('.bubble[data-from="user"]').last()).toContainText("请问营业时间？");
  await expect(phone.locator('.bubble[data-from="account"]').last()).toContainText("Demo sink received: 请问营业时间？");
  await phone.screenshot({ path: `${shots}/simulator-chat.png`, fullPage: true });

  // The operator sees the delivery in the console.
  await page.goto("/webhooks");
  await hydrated(page);
  const sinkRow = page.locator("[data-test=webhooks] tbody tr", { hasText: "Demo sink" });
  await sinkRow.locator("[data-test=show-deliveries]").click();
  await expect(page.locator("[data-test=deliveries]")).toContainText("wechat.message.text");
  await expect(page.locator("[data-test=deliveries] tr", { hasText: "wechat.message.text" }).first()).toContainText("Delivered");
  // And the account's page lists the message.
  await page.goto(`/accounts/${account}`);
  await expect(page.locator("[data-test=recent-messages]")).toContainText("请问营业时间？");
  await page.locator("[data-test=recent-messages]").screenshot({ path: `${shots}/account-messages.png` });
});
