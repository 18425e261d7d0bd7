//! A `cargo fuzz`-style runner on stable Rust (issue 16). `cargo fuzz` needs a nightly compiler
//! and libFuzzer; this runs the same kind of targets, each a function of raw bytes that must
//! never panic, first over a checked-in corpus (`tests/data/fuzz/<target>/`), then over random
//! mutations of it for a bounded time. It has no coverage feedback: the corpus carries the shapes
//! that matter (official vectors, real pushes, real menus), and the mutations break them at every
//! layer.
//!
//! A panic fails the test and the input is written to `target/fuzz-crashes/<target>-<hash>`. To
//! keep it as a regression case, copy it into the target's corpus directory.
//!
//! `WXHUB_FUZZ_SECONDS` sets the time per target (default 3 s, as in CI). `WXHUB_FUZZ_TARGET`
//! runs one target only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use wxhub::wechat::crypto::MsgCrypt;

const TOKEN: &str = "pamtest";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";

struct Target {
    name: &'static str,
    run: fn(&[u8]),
}

fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "xml_envelope",
            run: |b| {
                let _ = wxhub::wechat::xml::parse_envelope(b);
            },
        },
        Target {
            name: "xml_push",
            run: |b| {
                let _ = wxhub::wechat::xml::parse_component_push(b);
            },
        },
        Target {
            name: "xml_message",
            run: |b| {
                let _ = wxhub::wechat::xml::parse_account_message(b);
            },
        },
        Target {
            name: "crypto_decrypt",
            run: |b| {
                let crypto = MsgCrypt::new(TOKEN, AES_KEY, APPID).expect("static key");
                let text = String::from_utf8_lossy(b);
                let _ = crypto.decrypt(&text);
                let _ = crypto.verify_and_decrypt("1409304348", "xxxxxx", &text, &text);
            },
        },
        Target {
            name: "menu_json",
            run: |b| {
                if let Ok(menu) = serde_json::from_slice::<app::menu::ApiMenu>(b) {
                    let _ = app::menu::validate(&menu);
                    let _ = menu.lines();
                }
                if let Ok(menu) = serde_json::from_slice::<app::menu::SelfMenu>(b) {
                    let _ = app::menu::map_selfmenu(&menu);
                }
            },
        },
        Target {
            name: "webhook_signature",
            run: |b| {
                // The header a receiver gets is outside input; so is the body it covers.
                let secret =
                    SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
                let split = b.len() / 2;
                let header = String::from_utf8_lossy(&b[..split]);
                let _ = wxhub::webhooks::signing::verify(
                    &secret,
                    "msg_1",
                    1_700_000_000,
                    &b[split..],
                    &header,
                    1_700_000_000,
                    300,
                );
                // And a secret that is garbage is an error, not a panic.
                let garbage = SecretString::from(String::from_utf8_lossy(&b[split..]).into_owned());
                let _ = wxhub::webhooks::signing::sign(&[garbage], "msg_1", 0, b);
            },
        },
    ]
}

/// Pieces that matter to the parsers, spliced in by the mutator.
const DICTIONARY: &[&[u8]] = &[
    b"<xml>",
    b"</xml>",
    b"<![CDATA[",
    b"]]>",
    b"<Encrypt>",
    b"</Encrypt>",
    b"<InfoType>",
    b"<MsgType>",
    b"&amp;",
    b"&#x0;",
    b"<!DOCTYPE x [<!ENTITY a \"b\">]>",
    b"\"button\":[",
    b"\"sub_button\":[",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\u0000",
    b"v1,",
    b" ",
    b"=",
    b"\xff\xfe",
    b"\xe4\xb8\xad",
];

fn mutate(rng: &mut impl Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut input = corpus[rng.gen_range(0..corpus.len())].clone();
    for _ in 0..rng.gen_range(1..=4) {
        let len = input.len();
        match rng.gen_range(0..7) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                input[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => {
                let i = rng.gen_range(0..=len);
                input.insert(i, rng.gen());
            }
            2 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 64));
                input.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 64));
                let piece = input[a..b].to_vec();
                let at = rng.gen_range(0..=input.len());
                input.splice(at..at, piece);
            }
            4 => {
                let other = &corpus[rng.gen_range(0..corpus.len())];
                if !other.is_empty() {
                    let a = rng.gen_range(0..other.len());
                    let b = rng.gen_range(a..=other.len());
                    let at = rng.gen_range(0..=input.len());
                    input.splice(at..at, other[a..b].iter().copied());
                }
            }
            5 => {
                let word = DICTIONARY[rng.gen_range(0..DICTIONARY.len())];
                let at = rng.gen_range(0..=input.len());
                input.splice(at..at, word.iter().copied());
            }
            _ if len > 0 => {
                input.truncate(rng.gen_range(0..len));
            }
            _ => {}
        }
    }
    input.truncate(64 * 1024);
    input
}

fn corpus_of(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect()
}

fn keep_crash(name: &str, input: &[u8]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut h);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-crashes");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}-{:016x}", h.finish()));
    let _ = std::fs::write(&path, input);
    path
}

#[test]
fn every_target_survives_its_corpus_and_random_mutations() {
    let seconds: f64 = std::env::var("WXHUB_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let only = std::env::var("WXHUB_FUZZ_TARGET").ok();
    // Panics are caught and reported below; the default hook would print each one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut crashes = Vec::new();
    let mut report = Vec::new();
    for target in targets() {
        if only.as_deref().is_some_and(|o| o != target.name) {
            continue;
        }
        let corpus = corpus_of(target.name);
        assert!(!corpus.is_empty(), "{}: empty corpus", target.name);
        let mut run = |input: &[u8]| {
            if std::panic::catch_unwind(|| (target.run)(input)).is_err() {
                crashes.push(keep_crash(target.name, input));
            }
        };
        for input in &corpus {
            run(input);
        }
        let mut rng = rand::rngs::StdRng::from_entropy();
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let mut runs = corpus.len();
        while Instant::now() < deadline {
            let input = mutate(&mut rng, &corpus);
            run(&input);
            runs += 1;
        }
        report.push(format!(
            "{}: {} corpus files, {runs} runs",
            target.name,
            corpus.len()
        ));
    }
    std::panic::set_hook(hook);
    eprintln!("{}", report.join("\n"));
    assert!(
        crashes.is_empty(),
        "inputs that panicked (kept for a regression corpus): {crashes:?}"
    );
}

#[test]
fn the_mutator_changes_inputs_and_stays_bounded() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let corpus = vec![b"<xml><a>1</a></xml>".to_vec(), vec![0u8; 70 * 1024]];
    let mut changed = 0;
    for _ in 0..1_000 {
        let m = mutate(&mut rng, &corpus);
        assert!(m.len() <= 64 * 1024);
        if m != corpus[0] && m != corpus[1] {
            changed += 1;
        }
    }
    assert!(
        changed > 900,
        "only {changed} of 1,000 mutations changed anything"
    );
}
