//! People in a test: registering, signing in, and [`Signed`], a signed-in user that calls the
//! API with their token. Administrators are made the way the command line makes them.

use super::answer::{Answer, Caller};
use super::app::{TestApp, registration};
use hufu::domain::admin;
use serde_json::Value;

/// The password [`TestApp::login_as`] registers and signs in with.
pub const DEFAULT_PASSWORD: &str = "correct horse battery";

/// A signed-in user: what the sign-in answered, and calls to the API with their token.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The user's id.
    pub id: i64,
    /// The access token.
    pub token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The user object the sign-in answered (as it was then).
    pub user: Value,
    /// The whole `data` of the sign-in answer.
    pub data: Value,
    api: Caller,
}

impl Signed {
    /// Reads a successful sign-in answer's `data`.
    fn from_login(api: Caller, data: Value) -> Signed {
        let text = |field: &str| {
            data[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in the sign-in answer: {data}"))
                .to_owned()
        };
        Signed {
            id: data["user"]["id"].as_i64().expect("user id"),
            token: text("token"),
            refresh_token: text("refresh_token"),
            user: data["user"].clone(),
            api,
            data,
        }
    }

    /// The same user, every request with `Accept-Language: lang` (sent as given).
    pub fn in_lang(&self, lang: &str) -> Signed {
        Signed {
            api: self.api.in_lang(lang),
            ..self.clone()
        }
    }

    /// Sends a request with this user's token; `body` is sent as JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.api.call(method, path, Some(&self.token), body).await
    }

    /// `GET` as this user.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    /// `PUT` a JSON body as this user.
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call("PUT", path, Some(body)).await
    }

    /// `POST` a JSON body as this user.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(body)).await
    }

    /// `POST` with no body as this user.
    pub async fn post_empty(&self, path: &str) -> Answer {
        self.call("POST", path, None).await
    }

    /// `PATCH` a JSON body as this user.
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call("PATCH", path, Some(body)).await
    }

    /// `DELETE` as this user.
    pub async fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path, None).await
    }
}

impl TestApp {
    /// Registers `name` with a derived email and phone; returns the user object.
    pub async fn register(&self, name: &str, password: &str) -> Value {
        let answer = self.post(super::paths::REGISTER, registration(name, password)).await;
        let user = answer.expect_ok(201).clone();
        self.registered
            .lock()
            .expect("registered names")
            .insert(name.to_owned());
        user
    }

    /// Signs in; returns the login response data.
    pub async fn login(&self, identifier: &str, password: &str) -> Value {
        let answer = self
            .post(
                super::paths::LOGIN,
                serde_json::json!({"username": identifier, "password": password}),
            )
            .await;
        answer.expect_ok(200).clone()
    }

    /// The user whom a successful sign-in answer's `data` signed in (a WeChat or second-factor
    /// sign-in, say), to call the API as them.
    pub fn signed(&self, data: &Value) -> Signed {
        Signed::from_login(self.api.clone(), data.clone())
    }

    /// Signs in (one request) and returns the signed-in user.
    pub async fn sign_in(&self, identifier: &str, password: &str) -> Signed {
        let data = self.login(identifier, password).await;
        Signed::from_login(self.api.clone(), data)
    }

    /// `name`, signed in with [`DEFAULT_PASSWORD`]: registered first (derived email and phone) unless
    /// this harness registered them already. Each call is a new session.
    pub async fn login_as(&self, name: &str) -> Signed {
        let known = self.registered.lock().expect("registered names").contains(name);
        if !known {
            self.register(name, DEFAULT_PASSWORD).await;
        }
        self.sign_in(name, DEFAULT_PASSWORD).await
    }

    /// A signed-in administrator named `root`; see [`TestApp::admin_as`].
    pub async fn admin(&self) -> Signed {
        self.admin_as("root").await
    }

    /// `name` signed in (as [`TestApp::login_as`]), then made an administrator the way the
    /// command line does: `hufu::domain::admin::grant_role` through the node's core. The
    /// token's `roles` claim predates the grant; the admin guard reads the current roles.
    pub async fn admin_as(&self, name: &str) -> Signed {
        let signed = self.login_as(name).await;
        let core = &self.state.core;
        let user = admin::find_by_username(core, name).await.expect("user exists").user;
        admin::grant_role(core, &user, "admin").await.expect("grant admin");
        signed
    }
}
