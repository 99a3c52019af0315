//! WeChat's legacy encrypted data: AES-128-CBC with PKCS#7 padding, the key being the user's
//! `session_key`, and a `watermark.appid` that must be ours. Every failure is the same error,
//! so a caller cannot learn which step failed (a padding oracle needs exactly that).

use aws_lc_rs::cipher::{AES_128, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The one decryption failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("WeChat data could not be decrypted")]
pub struct DecryptFailed;

fn base64(text: &str) -> Result<Vec<u8>, DecryptFailed> {
    // Copies of WeChat's data are often wrapped over lines; whitespace is never meaningful.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| DecryptFailed)
}

/// Decrypts `encrypted_data` with `session_key` and `iv` (all base64) and checks that the
/// watermark names `appid`; returns the JSON payload.
pub fn decrypt(
    session_key: &str,
    encrypted_data: &str,
    iv: &str,
    appid: &str,
) -> Result<serde_json::Value, DecryptFailed> {
    let key = base64(session_key)?;
    let iv: [u8; 16] = base64(iv)?.try_into().map_err(|_| DecryptFailed)?;
    let mut data = base64(encrypted_data)?;
    if key.len() != 16 || data.is_empty() || data.len() % 16 != 0 {
        return Err(DecryptFailed);
    }
    let unbound = UnboundCipherKey::new(&AES_128, &key).map_err(|_| DecryptFailed)?;
    let cipher = PaddedBlockDecryptingKey::cbc_pkcs7(unbound).map_err(|_| DecryptFailed)?;
    let plaintext = cipher
        .decrypt(&mut data, DecryptionContext::Iv128(iv.into()))
        .map_err(|_| DecryptFailed)?;
    let payload: serde_json::Value = serde_json::from_slice(plaintext).map_err(|_| DecryptFailed)?;
    if payload["watermark"]["appid"].as_str() != Some(appid) {
        return Err(DecryptFailed);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    // WeChat's own published demo vector (see the project's wechat.md, section 4.2).
    const APPID: &str = "wx4f4bc4dec97d474b";
    const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
    const IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
    const USER_DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
    const PHONE_DATA: &str = "xT8p8W6jIVdEWQ+ccHuD2bmG5RSiwg14VWRFw/UGVh6Aj+jDIadafJ4xdCIBQ/uxDiyw/MZWvpFyRn3pP3xxVfNQxFtzghvK+Pj5JQI7x412Zc+UKBdZyt5yiQboroSxabTum1k4MMOlnoCxhJ46cxPDT2EuLbNUf2McwNtGO0/9E+Xj/ZwENw48ucueL3UqNoKpXxFYvqH6eawrR2MXnA==";

    #[test]
    fn wechats_demo_vector_decrypts_to_its_published_plaintext() {
        let payload = decrypt(SESSION_KEY, USER_DATA, IV, APPID).unwrap();
        assert_eq!(payload["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
        assert_eq!(payload["unionId"], "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
        assert_eq!(payload["nickName"], "Band");
        assert_eq!(payload["watermark"]["timestamp"], 1_477_314_187);
        let phone = decrypt(SESSION_KEY, PHONE_DATA, IV, APPID).unwrap();
        assert_eq!(phone["purePhoneNumber"], "13580006666");
        // Line-wrapped copies decrypt the same.
        let wrapped: String = USER_DATA
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n    ");
        assert!(decrypt(SESSION_KEY, &wrapped, IV, APPID).is_ok());
    }

    #[test]
    fn every_way_of_failing_is_the_same_error() {
        let mut flipped = STANDARD.decode(PHONE_DATA).unwrap();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        let flipped = STANDARD.encode(flipped);
        let cases = [
            decrypt(SESSION_KEY, PHONE_DATA, IV, "wx0000000000000000"), // watermark of another app
            decrypt(SESSION_KEY, &flipped, IV, APPID),                  // bad padding
            decrypt(SESSION_KEY, PHONE_DATA, "r7BXXKkLb8qrSNn0", APPID), // 12-byte IV
            decrypt(SESSION_KEY, "not base64!", IV, APPID),
            decrypt("c2hvcnQ=", PHONE_DATA, IV, APPID), // key of the wrong length
            decrypt(SESSION_KEY, &format!("aaaa{PHONE_DATA}"), IV, APPID),
            decrypt("AAAAAAAAAAAAAAAAAAAAAA==", PHONE_DATA, IV, APPID), // another user's key
        ];
        for case in cases {
            assert_eq!(case, Err(DecryptFailed));
        }
    }
}
