//! Verified identifiers (contract section 10): who holds an email or phone and whether they
//! proved it, proving one's own with a `verify` code, the proofs a registration or a profile
//! change brings (`register` / `change` codes, required for the channels in
//! `HUFU_REQUIRE_VERIFIED`), and the audit and cache work after "a verified identifier wins"
//! moved one from another account.

use super::audit::{self, Event};
use super::codes::{self, Channel, Purpose};
use super::error::{Error, Reason, Result, UniqueField};
use super::input::{NewAccount, ProfileChange, Target, VerifyRequest};
use super::user::User;
use super::{ClientContext, Core};
use crate::store::{Proofs, Reclaimed};

/// The account holding an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// Its id.
    pub id: i64,
    /// Whether it proved the identifier.
    pub verified: bool,
}

/// Who holds `target`, if anyone.
pub async fn holder(core: &Core, target: &Target) -> Result<Option<Holder>> {
    let account = match target.channel() {
        Channel::Email => core.store.user_by_email_key(target.key()).await?,
        Channel::Sms => core.store.user_by_phone(target.key()).await?,
    };
    Ok(account.map(|a| Holder {
        id: a.user.id,
        verified: match target.channel() {
            Channel::Email => a.user.email_verified,
            Channel::Sms => a.user.phone_verified,
        },
    }))
}

/// The user's own email or phone as a code target.
pub fn own_target(user: &User, channel: Channel) -> Option<Target> {
    match channel {
        Channel::Email => user
            .email
            .clone()
            .map(|email| Target::stored(channel, email.clone(), email.to_ascii_lowercase())),
        Channel::Sms => user
            .phone
            .clone()
            .map(|phone| Target::stored(channel, phone.clone(), phone)),
    }
}

/// `POST /users/verify`: a `verify` code proves the user's own email or phone.
pub async fn verify(core: &Core, user_id: i64, request: VerifyRequest, client: &ClientContext) -> Result<User> {
    let channel = request.channel();
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    // No identifier on the account: no code can have been sent for it.
    let target = own_target(&account.user, channel).ok_or(Error::CodeInvalid)?;
    codes::use_code(core, &target, Purpose::Verify, request.code(), Some(user_id)).await?;
    let record = audit::entry(core, Event::IdentifierVerified, Some(user_id), client)
        .with_detail(serde_json::json!({"channel": channel.as_str()}));
    core.store
        .prove_identifier(
            user_id,
            channel.field(),
            target.key(),
            core.clock.unix_millis(),
            Some(&record),
        )
        .await?;
    core.invalidate_profile(user_id).await;
    super::accounts::profile(core, user_id).await
}

/// The request field of a channel's code.
fn code_field(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email_code",
        Channel::Sms => "phone_code",
    }
}

/// Checks that a code is given for each channel `HUFU_REQUIRE_VERIFIED` lists whose
/// identifier is being set (before anything is used or hashed).
fn require_codes(core: &Core, sets: [(Channel, bool, bool); 2]) -> Result<()> {
    let required = core.codes.settings().require_verified;
    let missing: Vec<_> = sets
        .into_iter()
        .filter(|(channel, set, has_code)| *set && !*has_code && required.requires(*channel))
        .map(|(channel, _, _)| super::error::FieldError {
            field: code_field(channel),
            reason: Reason::Required,
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(missing))
    }
}

/// Checks that a registration carries the codes `HUFU_REQUIRE_VERIFIED` asks for.
pub fn check_registration(core: &Core, account: &NewAccount) -> Result<()> {
    let (email_code, phone_code) = account.codes();
    require_codes(
        core,
        [
            (Channel::Email, true, email_code.is_some()),
            (Channel::Sms, account.phone().is_some(), phone_code.is_some()),
        ],
    )
}

/// Uses a registration's `register` codes; what they prove.
pub async fn prove_registration(core: &Core, account: &NewAccount) -> Result<Proofs> {
    let (email_code, phone_code) = account.codes();
    let mut proofs = Proofs::default();
    if let Some(code) = email_code {
        let email = account.email();
        let target = Target::stored(Channel::Email, email.display.clone(), email.key.clone());
        codes::use_code(core, &target, Purpose::Register, code, None).await?;
        proofs.email = true;
    }
    if let (Some(code), Some(phone)) = (phone_code, account.phone()) {
        let target = Target::stored(Channel::Sms, phone.to_owned(), phone.to_owned());
        codes::use_code(core, &target, Purpose::Register, code, None).await?;
        proofs.phone = true;
    }
    Ok(proofs)
}

/// Checks a profile change's codes and uses them: a new email or phone with its `change`
/// code is proved (the code sent to that value for this user); one without is stored
/// unverified, or refused for a channel `HUFU_REQUIRE_VERIFIED` lists.
pub async fn prove_change(core: &Core, user_id: i64, change: ProfileChange) -> Result<ProfileChange> {
    use crate::store::Change;
    let update = change.update();
    let new_email = match &update.email {
        Change::Set(Some((display, key))) => Some(Target::stored(Channel::Email, display.clone(), key.clone())),
        _ => None,
    };
    let new_phone = match &update.phone {
        Change::Set(Some(phone)) => Some(Target::stored(Channel::Sms, phone.clone(), phone.clone())),
        _ => None,
    };
    let (email_code, phone_code) = change.codes();
    require_codes(
        core,
        [
            (Channel::Email, new_email.is_some(), email_code.is_some()),
            (Channel::Sms, new_phone.is_some(), phone_code.is_some()),
        ],
    )?;
    let mut proofs = Proofs::default();
    for (target, code, proved) in [
        (new_email, email_code, &mut proofs.email),
        (new_phone, phone_code, &mut proofs.phone),
    ] {
        match (target, code) {
            (Some(target), Some(code)) => {
                codes::use_code(core, &target, Purpose::Change, code, Some(user_id)).await?;
                *proved = true;
            }
            // A code for a field that is not being set to a value proves nothing.
            (None, Some(_)) => return Err(Error::CodeInvalid),
            _ => {}
        }
    }
    Ok(change.proved(proofs))
}

/// After a write took identifiers from other accounts: both accounts audited
/// (`identifier_reclaimed`), and the other account's cached profile dropped on every node.
pub async fn after_reclaim(core: &Core, user_id: i64, reclaimed: &[Reclaimed], client: &ClientContext) {
    for taken in reclaimed {
        let channel = match taken.field {
            UniqueField::Email => "email",
            _ => "sms",
        };
        let gained = audit::entry(core, Event::IdentifierReclaimed, Some(user_id), client)
            .with_detail(serde_json::json!({"channel": channel, "from_user_id": taken.from_user.to_string()}));
        audit::record_alone(core, gained).await;
        let lost = audit::entry(core, Event::IdentifierReclaimed, Some(taken.from_user), client)
            .with_detail(serde_json::json!({"channel": channel, "to_user_id": user_id.to_string()}));
        audit::record_alone(core, lost).await;
        core.invalidate_profile(taken.from_user).await;
    }
}
