//! People in a test: registering and signing in.

use super::app::{TestApp, registration};
use serde_json::Value;

impl TestApp {
    /// Registers `name` with a derived email and phone; returns the user object.
    pub async fn register(&self, name: &str, password: &str) -> Value {
        let answer = self.post("/api/v1/auth/register", registration(name, password)).await;
        answer.expect_ok(201).clone()
    }

    /// Signs in; returns the login response data.
    pub async fn login(&self, identifier: &str, password: &str) -> Value {
        let answer = self
            .post(
                "/api/v1/auth/login",
                serde_json::json!({"username": identifier, "password": password}),
            )
            .await;
        answer.expect_ok(200).clone()
    }

    /// Registers and signs in; returns the access token.
    pub async fn user_with_token(&self, name: &str) -> String {
        self.register(name, "correct horse battery").await;
        let data = self.login(name, "correct horse battery").await;
        data["token"].as_str().expect("token").to_owned()
    }
}
