//! The tower layer that guards routes: it reads `Authorization: Bearer <token>`, verifies the
//! token, and either passes the request on with the [`AccessClaims`] in its extensions or
//! answers in hufu's error envelope itself.

use crate::claims::AccessClaims;
use crate::error::VerifyError;
use crate::verifier::Verifier;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Request, header};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// The token of an `Authorization: Bearer <token>` header, parsed as hufu does: the scheme in
/// any case, surrounding spaces ignored. `Missing` without the header, `Malformed` otherwise.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, VerifyError> {
    let value = headers.get(header::AUTHORIZATION).ok_or(VerifyError::Missing)?;
    let value = value.to_str().map_err(|_| VerifyError::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(VerifyError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(VerifyError::Malformed);
    }
    Ok(token)
}

/// A [`tower::Layer`] that lets through only requests carrying a valid hufu access token.
///
/// Refused requests get 401 (503 when hufu's keys cannot be fetched) with hufu's JSON error
/// envelope and a `WWW-Authenticate` challenge; accepted ones reach the inner service with
/// the [`AccessClaims`] in their extensions, which handlers read with [`crate::HufuClaims`].
#[derive(Debug, Clone)]
pub struct HufuAuthLayer {
    verifier: Verifier,
}

impl HufuAuthLayer {
    /// A layer checking tokens with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for HufuAuthLayer {
    type Service = HufuAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HufuAuthService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service made by [`HufuAuthLayer`]; wraps an axum-style service answering [`Response`].
#[derive(Debug, Clone)]
pub struct HufuAuthService<S> {
    inner: S,
    verifier: Verifier,
}

impl<S, B> Service<Request<B>> for HufuAuthService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // `poll_ready` readied `self.inner`, not a clone of it: take the ready one along and
        // leave the fresh clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let checked: Result<AccessClaims, VerifyError> = match bearer_token(request.headers()) {
                Ok(token) => verifier.verify(token).await,
                Err(error) => Err(error),
            };
            match checked {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_scheme_case() {
        assert_eq!(bearer_token(&headers("Bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(&headers("bearer   a.b.c ")), Ok("a.b.c"));
    }

    #[test]
    fn other_authorization_headers_are_malformed_and_none_is_missing() {
        assert_eq!(bearer_token(&HeaderMap::new()), Err(VerifyError::Missing));
        assert_eq!(
            bearer_token(&headers("Basic dXNlcjpwdw==")),
            Err(VerifyError::Malformed)
        );
        assert_eq!(bearer_token(&headers("Bearer")), Err(VerifyError::Malformed));
        assert_eq!(bearer_token(&headers("a.b.c")), Err(VerifyError::Malformed));
    }
}
