//! The web page, end to end: runs the Playwright tests in `web/e2e/` (headless Debian
//! Chromium against the real `hufu` binary this build produced) as one test, so `cargo test`
//! covers the page too. Without Node.js, the installed `web/e2e/node_modules` or
//! `/usr/bin/chromium` the test says what it skipped and passes, unless
//! `HUFU_TEST_REQUIRE_BROWSER=1` (CI) makes a missing piece a failure.

// A test (or benchmark) that cannot set itself up should stop loudly: unwrapping is its way
// of failing. The workspace denies these lints outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn missing_pieces(e2e: &Path, chromium: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (Node.js)".to_owned());
    }
    if !e2e.join("node_modules/playwright-core").is_dir() {
        missing.push(format!("{}/node_modules (run `npm ci` there)", e2e.display()));
    }
    if !chromium.exists() {
        missing.push(format!("{} (Debian's chromium package)", chromium.display()));
    }
    missing
}

#[test]
fn web_page_end_to_end_in_headless_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let e2e = root.join("web/e2e");
    let chromium =
        std::env::var_os("HUFU_E2E_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let missing = missing_pieces(&e2e, &chromium);
    if !missing.is_empty() {
        let required = std::env::var("HUFU_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "HUFU_TEST_REQUIRE_BROWSER=1 but missing: {}",
            missing.join(", ")
        );
        eprintln!("skipped the web page's browser tests; missing: {}", missing.join(", "));
        return;
    }
    let artefacts = root.join("target/e2e-screenshots");
    // Old screenshots would pass for new ones.
    let _ = std::fs::remove_dir_all(&artefacts);
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec", "tests/"])
        .current_dir(&e2e)
        .env("HUFU_BIN", env!("CARGO_BIN_EXE_hufu"))
        .env("HUFU_E2E_ARTEFACTS", &artefacts)
        .env("HUFU_E2E_CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the browser tests failed (output above; screenshots in {})",
        artefacts.display()
    );
    let shots = std::fs::read_dir(&artefacts).map(|d| d.count()).unwrap_or(0);
    assert!(
        shots > 0,
        "the browser tests saved no screenshots in {}",
        artefacts.display()
    );
}
