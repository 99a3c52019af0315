//! Sending a request to a server under test and reading its answer: [`Caller`] (a client, the
//! server's address and an optional `Accept-Language`) and [`Answer`] (status, headers, body).

use serde_json::Value;
use std::time::Duration;

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope's status and code, and returns the body.
    #[track_caller]
    pub fn expect_error(&self, status: u16, error_code: &str) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(
            self.body["code"], status,
            "code must equal the HTTP status: {}",
            self.text
        );
        assert_eq!(self.body["error_code"], error_code, "body: {}", self.text);
        assert!(
            self.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "error text: {}",
            self.text
        );
        assert_eq!(
            self.body["request_id"].as_str(),
            self.header("x-request-id"),
            "request_id echoes the header"
        );
        &self.body
    }

    /// Asserts a success envelope and returns `data`.
    #[track_caller]
    pub fn expect_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["code"], status, "body: {}", self.text);
        assert!(self.body.get("error").is_none(), "body: {}", self.text);
        &self.body["data"]
    }
}

/// Reads a response into an [`Answer`].
pub async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// Sends requests to one server, with an `Accept-Language` header when [`Caller::in_lang`]
/// set one.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client every request goes through.
    pub client: reqwest::Client,
    /// `http://host:port`.
    base: String,
    /// The `Accept-Language` every request carries, if any.
    lang: Option<String>,
}

impl Caller {
    /// A caller of the server at `addr`, with a client that gives up after 30 s.
    pub fn new(addr: impl std::fmt::Display) -> Caller {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Caller {
            client,
            base: format!("http://{addr}"),
            lang: None,
        }
    }

    /// The same server, every request with `Accept-Language: lang` (sent as given).
    pub fn in_lang(&self, lang: &str) -> Caller {
        Caller {
            lang: Some(lang.to_owned()),
            ..self.clone()
        }
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path`, with the language header if any, to add to and send.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method.parse().expect("method"), self.url(path));
        match &self.lang {
            Some(lang) => request.header("accept-language", lang),
            None => request,
        }
    }

    /// Sends a request; `token` adds a bearer header, `body` a JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.request(method, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    /// `POST` with a JSON body and no token.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, None, Some(body)).await
    }

    /// `GET`, with a bearer token if given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call("GET", path, token, None).await
    }
}
