//! The rig most integration tests stand on: the real server on port 0 with the simulator as
//! WeChat, one tenant (`acme`) with its own component, and helpers to authorize an account, sign
//! in and call server functions.

use std::time::Duration;

use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::domain::{
    Actor, AuditKind, AuthorizerStatus, ComponentId, NewAuditEvent, Outcome, TenantId,
};
use wxhub::simulator::{ComponentSeed, Lifetimes, Seed, SimSettings, Simulator};
use wxhub::wechat::api::{ClientSettings, WechatClient};
use wxhub::wechat::links::AuthorizationRequest;

use super::{wait_for, TestApp, TestDb};

pub const COMPONENT: &str = "wx7e57c0de00000001";
pub const OA: &str = "wx5a1c0ffee0000001";
pub const MP: &str = "wx5a1c0ffee0000003";

pub struct Rig {
    pub app: TestApp,
    pub sim: Simulator,
    pub seed: ComponentSeed,
    pub component: ComponentId,
    pub tenant: TenantId,
    pub client: WechatClient,
}

pub async fn rig(
    db: &TestDb,
    lifetimes: Lifetimes,
    tweak: impl FnOnce(&mut wxhub::config::Settings),
) -> Rig {
    build(db, lifetimes, false, tweak).await
}

/// The same rig, but its component is the platform's shared one: accounts belong to whichever
/// tenant's link they came through.
pub async fn shared_rig(
    db: &TestDb,
    lifetimes: Lifetimes,
    tweak: impl FnOnce(&mut wxhub::config::Settings),
) -> Rig {
    build(db, lifetimes, true, tweak).await
}

async fn build(
    db: &TestDb,
    lifetimes: Lifetimes,
    shared: bool,
    tweak: impl FnOnce(&mut wxhub::config::Settings),
) -> Rig {
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimSettings {
            lifetimes,
            ticket_interval: Duration::from_secs(3600),
            ..Default::default()
        },
        Seed {
            components: vec![],
            accounts: Seed::demo_accounts(),
        },
    )
    .await
    .unwrap();
    let base: url::Url = sim.base_url().parse().unwrap();
    let app = super::spawn_app_with(db, |s| {
        s.wechat_api_base = base.clone();
        s.wechat_mp_base = base.clone();
        s.wechat_open_base = base.clone();
        s.wechat_timeout_seconds = 2;
        tweak(s);
    })
    .await;
    let admin = Admin {
        store: app.store.clone(),
        actor: Actor::Cli,
    };
    let tenant = admin.create_tenant("acme", "Acme").await.unwrap();
    let mut seed = ComponentSeed::generate(COMPONENT, "Acme Platform", None);
    let component = admin
        .create_component(
            COMPONENT,
            &seed.token,
            (!shared).then_some("acme"),
            &SecretString::from(seed.secret.clone()),
            &SecretString::from(seed.encoding_aes_key.clone()),
        )
        .await
        .unwrap();
    seed.notify_url = Some(app.url(&format!("/wechat/{COMPONENT}/notify")));
    // Registering the component makes the simulator push its first ticket right away.
    sim.with_state(|s, _| s.add_component(seed.clone()))
        .unwrap();
    let client = WechatClient::new(&ClientSettings {
        api_base: base,
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
    })
    .unwrap();
    Rig {
        app,
        sim,
        seed,
        component: component.id,
        tenant: tenant.id,
        client,
    }
}

impl Rig {
    pub fn engine(&self) -> &std::sync::Arc<wxhub::engine::Engine> {
        self.app.app.as_ref().unwrap().engine()
    }

    pub async fn component_token(&self) -> String {
        let engine = self.engine();
        assert!(
            wait_for(Duration::from_secs(15), || async {
                engine
                    .component_token(self.component, wxhub::now_ms())
                    .is_some()
            })
            .await,
            "the engine never got a component token"
        );
        use secrecy::ExposeSecret;
        engine
            .component_token(self.component, wxhub::now_ms())
            .unwrap()
            .value
            .expose_secret()
            .to_owned()
    }

    /// A link, a pre_auth_code minted for it, and the owner confirming on the simulated page;
    /// returns where WeChat sends the browser back.
    pub async fn authorize(&self, account: &str, funcs: &[i64]) -> String {
        self.authorize_through(self.tenant, account, funcs).await
    }

    /// [`Rig::authorize`] through a link of `tenant`.
    pub async fn authorize_through(
        &self,
        tenant: wxhub::domain::TenantId,
        account: &str,
        funcs: &[i64],
    ) -> String {
        let token = self.component_token().await;
        let link = self.link(tenant).await;
        let public_id = link.public_id.clone();
        let code = self
            .client
            .create_preauthcode(&token, COMPONENT)
            .await
            .unwrap();
        let code_value = SecretString::from(code.pre_auth_code.expose().to_owned());
        self.app
            .store
            .record_pre_auth_code(
                &link,
                &code_value,
                wxhub::now_ms() + 600_000,
                wxhub::now_ms(),
            )
            .await
            .unwrap();
        let redirect = self.app.url(&format!("/authorize/{public_id}/done"));
        let page = AuthorizationRequest {
            component_appid: COMPONENT,
            pre_auth_code: code.pre_auth_code.expose(),
            redirect_uri: &redirect,
            auth_type: None,
            biz_appid: None,
        }
        .pc_url(&self.sim.base_url().parse().unwrap());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        assert_eq!(http.get(&page).send().await.unwrap().status(), 200);
        let mut form: Vec<(&str, String)> = vec![
            ("component_appid", COMPONENT.into()),
            ("pre_auth_code", code.pre_auth_code.expose().into()),
            ("redirect_uri", redirect.clone()),
            ("authorizer_appid", account.into()),
        ];
        for f in funcs {
            form.push(("func", f.to_string()));
        }
        let done = http
            .post(format!("{}/sim/confirm", self.sim.base_url()))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 302);
        done.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A new authorization link of `tenant` on the rig's component.
    pub async fn link(&self, tenant: wxhub::domain::TenantId) -> wxhub::domain::AuthorizationLink {
        let audit = NewAuditEvent::new(
            Actor::Cli,
            AuditKind::LinkCreated,
            Outcome::Ok,
            "test link",
            wxhub::now_ms(),
        );
        self.app
            .store
            .create_link(
                tenant,
                self.component,
                &format!("l{}", super::random_suffix()),
                3,
                None,
                "",
                None,
                &audit,
                wxhub::now_ms(),
            )
            .await
            .unwrap()
    }

    /// Signs and posts a push to the notify URL as WeChat would (this test knows the component's
    /// keys, as a tenant knows its own component's); returns the status and the body.
    pub async fn push(&self, xml: &str) -> (u16, String) {
        let crypto = wxhub::wechat::crypto::MsgCrypt::new(
            &self.seed.token,
            &self.seed.encoding_aes_key,
            COMPONENT,
        )
        .unwrap();
        let nonce = super::random_suffix();
        let timestamp = (wxhub::now_ms() / 1000).to_string();
        let sealed = crypto.encrypt(xml, &timestamp, &nonce);
        let body = wxhub::wechat::xml::build_envelope(COMPONENT, &sealed.encrypt);
        let url = self.app.url(&format!(
            "/wechat/{COMPONENT}/notify?timestamp={timestamp}&nonce={nonce}&encrypt_type=aes&msg_signature={}",
            sealed.msg_signature
        ));
        let res = self.app.client.post(url).body(body).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Signs and posts a message for `account` to the message URL as WeChat would; returns the
    /// status and the body (an encrypted reply envelope, `success`, or nothing).
    pub async fn message(&self, account: &str, xml: &str) -> (u16, String) {
        let crypto = self.crypto();
        let nonce = super::random_suffix();
        let timestamp = (wxhub::now_ms() / 1000).to_string();
        let sealed = crypto.encrypt(xml, &timestamp, &nonce);
        let body = wxhub::wechat::xml::build_envelope(COMPONENT, &sealed.encrypt);
        let url = self.app.url(&format!(
            "/wechat/{COMPONENT}/message/{account}?signature=x&timestamp={timestamp}&nonce={nonce}&openid=o1&encrypt_type=aes&msg_signature={}",
            sealed.msg_signature
        ));
        let res = self.app.client.post(url).body(body).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// The component's message crypto, as WeChat holds it.
    pub fn crypto(&self) -> wxhub::wechat::crypto::MsgCrypt {
        wxhub::wechat::crypto::MsgCrypt::new(
            &self.seed.token,
            &self.seed.encoding_aes_key,
            COMPONENT,
        )
        .unwrap()
    }

    /// The refresh token wxhub holds for `appid`, and the one WeChat (the simulator) holds.
    pub async fn refresh_tokens(&self, appid: &str) -> (Option<String>, Option<String>) {
        use secrecy::ExposeSecret;
        let ours = self
            .app
            .store
            .refresh_token(self.component, appid)
            .await
            .unwrap()
            .map(|t| t.expose_secret().to_owned());
        let theirs = self
            .sim
            .with_state(|s, _| s.refresh_token(COMPONENT, appid));
        (ours, theirs)
    }

    pub fn token_is_valid_at_wechat(&self, token: &str) -> bool {
        self.sim
            .with_state(|s, now| s.authorizer_token_valid(token, now))
    }

    /// The token the engine would serve for `appid` now (held, or read through from the database).
    pub async fn cached_authorizer_token(&self, appid: &str) -> Option<String> {
        use secrecy::ExposeSecret;
        self.engine()
            .authorizer_token(self.component, appid, wxhub::now_ms())
            .await
            .unwrap()
            .map(|t| t.value.expose_secret().to_owned())
    }

    pub async fn authorizer_status(&self, appid: &str) -> Option<AuthorizerStatus> {
        self.app
            .store
            .authorizer(self.tenant, appid)
            .await
            .unwrap()
            .map(|a| a.status)
    }

    pub fn calls(&self, api: &str) -> Vec<wxhub::simulator::CallRecord> {
        self.sim
            .calls()
            .into_iter()
            .filter(|c| c.api == api)
            .collect()
    }

    pub async fn stop(self) {
        self.app.stop().await;
        self.sim.stop().await;
    }
}

/// A signed-in browser session of `email` (a cookie jar).
pub async fn signed_in(r: &Rig, email: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(r.app.url("/ui/login"))
        .form(&[("email", email), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "{email} could not sign in: {}",
        res.status()
    );
    client
}

/// Calls a server function with form fields; returns the status and the JSON answer.
pub async fn ui(
    client: &reqwest::Client,
    r: &Rig,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let res = client
        .post(r.app.url(&format!("/ui/{endpoint}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded_pairs(form))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

pub fn serde_urlencoded_pairs(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

/// The `href` of the element marked `data-test="{marker}"` in server-rendered HTML, unescaped.
pub fn href_of(html: &str, marker: &str) -> Option<String> {
    let at = html.find(&format!("data-test=\"{marker}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..at + html[at..].find('>')?];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&"))
}
