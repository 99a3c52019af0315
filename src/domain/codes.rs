//! One-time codes (contract section 10): what they are for, where they go, their settings, and
//! the rules of sending and checking them — keyed hash at rest, one live code per target and
//! purpose, single use on every node, five tries, the resend interval and the daily cap counted
//! in the database, unauthenticated sends delivered after the answer from a bounded queue.
//!
//! The store keeps the codes (`store::sql::codes`); `delivery` gets them to a person. Nothing
//! here logs, audits or returns a code.

use std::time::Duration;

/// The `codes` section of the settings (its defaults are declared in `config::sections`).
#[derive(Debug, Clone)]
pub struct CodeSettings {
    /// How long a code is valid.
    pub ttl: Duration,
    /// Shortest time between two sends to one target (any purpose); zero turns it off.
    pub resend_interval: Duration,
    /// Sends per target per 24 hours.
    pub daily_limit: u32,
    /// Whether a code sign-in with an unknown phone creates an account.
    pub signup: bool,
    /// The channels whose identifiers must be proved by a code (`HUFU_REQUIRE_VERIFIED`).
    pub require_verified: RequireVerified,
}

/// Which identifiers must be proved before they count (`HUFU_REQUIRE_VERIFIED`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequireVerified {
    /// Email addresses must be proved.
    pub email: bool,
    /// Phone numbers must be proved.
    pub phone: bool,
}

impl RequireVerified {
    /// Parses a comma list of `email` and `phone` (empty: neither).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut value = Self::default();
        for item in raw.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            match item {
                "email" => value.email = true,
                "phone" => value.phone = true,
                other => return Err(format!("expected a list of email and phone, got {other:?}")),
            }
        }
        Ok(value)
    }

    /// Whether the identifiers of `channel` must be proved.
    pub fn requires(self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.phone,
        }
    }
}

pub use crate::delivery::Channel;

/// What a code is for (contract section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Code sign-in (and sign-up with `HUFU_CODE_SIGNUP`).
    Login,
    /// Proving an identifier at registration.
    Register,
    /// Resetting a forgotten password.
    ResetPassword,
    /// Proving the user's own email or phone.
    Verify,
    /// Proving a new email or phone before it replaces the old one.
    Change,
    /// Proving the user is present before a sensitive change (section 11).
    Reauth,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 6] = [
        Purpose::Login,
        Purpose::Register,
        Purpose::ResetPassword,
        Purpose::Verify,
        Purpose::Change,
        Purpose::Reauth,
    ];

    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Register => "register",
            Purpose::ResetPassword => "reset_password",
            Purpose::Verify => "verify",
            Purpose::Change => "change",
            Purpose::Reauth => "reauth",
        }
    }

    /// The purpose named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}
